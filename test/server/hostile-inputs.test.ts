import t from 'tap'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

// RELIABILITY E42 and G61: every route of the OpenAPI document, every path and query parameter it
// declares and its JSON body, walked with hostile values. No answer may be a 5xx, and every refusal is a
// coded error (`{"error": {"code", "message"}}`). The walk reads the routes from /docs/json, so a route
// added later is walked without touching this file.

interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  default?: unknown
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  minProperties?: number
}
interface Parameter { name: string, in: 'path' | 'query' | 'header' | 'cookie', required?: boolean, schema?: JsonSchema }
interface Operation { parameters?: Parameter[], requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }
interface Route { method: string, template: string, op: Operation }

const b64 = (text: string) => Buffer.from(text).toString('base64url')
const ZERO_UUID = '00000000-0000-0000-0000-000000000000'

/** Hostile values for path and query parameters, as they appear in the URL (already percent-encoded):
 * controls, broken UTF-8, lone surrogates, very long, SQL, ids Postgres refuses as a uuid. */
const TEXT_VALUES: string[] = [
  '%00', 'a%00b', '%01', '%1F', '%7F', '%0A', '%ED%A0%80', '%uD800', '%F0%9F', '%', '%ZZ', '%C0%80',
  'a'.repeat(4000), '', '%20', "'%20OR%201=1--", '%5B%5D', '__proto__', 'true',
  ZERO_UUID, `urn:uuid:${ZERO_UUID}`, '{00000000-0000-0000-0000-000000000000}', '-'.repeat(36), '00000000000000000000000000000000',
  '-1', '1e30', 'NaN', 'Infinity', '1.5', '99999999999999999999'
]
/** More for query parameters (cursors, times, limits), which path parameters never are. */
const QUERY_VALUES: string[] = [
  ...TEXT_VALUES,
  // cursors: not base64url, base64url of garbage, of JSON of the wrong shape or arity, of a well-formed
  // tuple whose values Postgres refuses
  '!!!', b64('garbage'), b64('null'), b64('{"a":1}'), b64('[1]'), b64('["a","b","c"]'), b64('[[1],{}]'),
  b64('["not-a-date","x"]'), b64('["2020-01-01T00:00:00.000Z","not-a-uuid"]'), b64(`["+275760-09-13T00:00:00.000Z","${ZERO_UUID}"]`),
  b64('["2020-01-01T00:00:00.000Z",1e300]'), b64('["2020-01-01T00:00:00.000Z","a\\u0000b"]'), b64('[1e400]'), b64('[-1.5]'),
  // well-formed cursors of the other lists: (time, seq) of telemetry, (time, uuid) of the others, (id) of notifications
  b64('["2020-01-01T00:00:00.000Z",5]'), b64(`["2020-01-01T00:00:00.000Z","${ZERO_UUID}"]`), b64('[5]'),
  // timestamps
  '8640000000000000', '8640000000000001', '253402300800000', '0',
  '0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '2021-02-30T00:00:00Z', '%2B275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z',
  // limits and numbers
  '1e9', 'abc', '-0', '0x10', '-Infinity'
]

/** Hostile values for one string of a JSON body (each replaces one field of an otherwise valid body). */
const FIELD_VALUES: unknown[] = [
  'a\u0000b', '\u0001', '\ud800', 'x'.repeat(100_000), '', 0, -1, 1e308, 1.5, true, null, [], {}, ['\u0000'], { a: '\u0000' },
  'Infinity', '-Infinity', '1e400', '8640000000000000', `urn:uuid:${ZERO_UUID}`, '-'.repeat(36)
]

/** Whole bodies: wrong types, broken JSON, deep nesting. */
const RAW_BODIES: string[] = ['', '{', 'null', '[]', '"x"', '1', 'true', '{"a":"\\u0000"}', '['.repeat(5000) + ']'.repeat(5000), '{"a":'.repeat(2000) + '1' + '}'.repeat(2000), '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}']

/** Candidates for a valid string, picked by the schema's pattern, format and length. */
function validString (s: JsonSchema, ids: Map<string, string[]>): string {
  if (s.format === 'uuid') return ids.get('tenants')?.[0] ?? ZERO_UUID
  if (s.format === 'date-time') return '2024-01-01T00:00:00.000Z'
  const pool = ['x', 'name-1', 'a@example.test', '2024-01-01T00:00:00.000Z', ZERO_UUID, 'LPA:1$smdp.example.com$MATCHING-ID', ...Array.from({ length: 40 }, (_, i) => '8' + '9'.repeat(i))]
  const fits = (v: string) => (s.pattern === undefined || new RegExp(s.pattern, 'u').test(v)) &&
    v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity)
  return pool.find(fits) ?? 'x'.repeat(Math.max(1, s.minLength ?? 1))
}

/** A value the schema accepts, as far as the walker can tell: required fields only, first enum member. */
function validValue (s: JsonSchema | undefined, ids: Map<string, string[]>): unknown {
  if (s === undefined) return 'x'
  if (s.const !== undefined) return s.const
  if (s.enum !== undefined) return s.enum[0]
  if (s.default !== undefined) return s.default
  const alternatives = s.anyOf ?? s.oneOf
  if (alternatives !== undefined) return validValue(alternatives.find((a) => a.type !== 'null') ?? alternatives[0], ids)
  if (s.allOf !== undefined) return Object.assign({}, ...s.allOf.map((a) => validValue(a, ids)))
  const type = Array.isArray(s.type) ? s.type[0] : s.type
  switch (type) {
    case 'string': return validString(s, ids)
    case 'integer': case 'number': return s.minimum ?? 1
    case 'boolean': return false
    case 'array': return Array.from({ length: s.minItems ?? 0 }, () => validValue(s.items, ids))
    case 'object': {
      const out: Record<string, unknown> = {}
      const names = Object.keys(s.properties ?? {})
      const wanted = new Set(s.required ?? [])
      for (const name of names) if (wanted.size < (s.minProperties ?? 0)) wanted.add(name)
      for (const name of wanted) out[name] = validValue(s.properties?.[name], ids)
      return out
    }
    default: return 'x'
  }
}

/** Every path into the body's properties (nested objects and array items), to put one hostile value at. */
function fieldPaths (s: JsonSchema | undefined, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (s === undefined) return []
  const alternatives = s.anyOf ?? s.oneOf ?? s.allOf
  if (alternatives !== undefined) return alternatives.flatMap((a) => fieldPaths(a, prefix))
  if (s.properties !== undefined) {
    return Object.entries(s.properties).flatMap(([name, p]) => [[...prefix, name], ...fieldPaths(p, [...prefix, name])])
  }
  if (s.items !== undefined) return fieldPaths(s.items, [...prefix, 0])
  return []
}

function setAt (body: unknown, path: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(body) as Record<string | number, unknown>
  let node = copy
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = typeof key === 'number' ? [] : {}
    node = node[key] as Record<string | number, unknown>
  }
  node[path[path.length - 1]] = value
  return copy
}

const describe = (value: unknown) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 40)}…(${text.length} chars)` : text
}

// One hub for both tests; the walk goes last (it ends its session with the logout route).
const hub: TestHub = await startTestHub(t)
t.test('the red team\'s requests answer the coded 400 the API documents; valid values still pass', async (t) => {
  const token = await hub.login()
  const { device } = await hub.createDevice(token)
  const campaign = await hub.api(token, 'POST', '/api/campaigns', { name: 'c', op: 'listProfiles', filter: { deviceIds: [device.id] } })
  const code = async (path: string) => {
    const res = await hub.api(token, 'GET', path)
    return `${res.status} ${res.body?.error?.code as string | undefined ?? ''}`.trim()
  }
  const lists = ['/api/devices', `/api/devices/${device.id as string}/telemetry`, `/api/devices/${device.id as string}/commands`, '/api/campaigns',
    `/api/campaigns/${campaign.body.id as string}/commands`, '/api/notifications']
  for (const list of lists) {
    for (const cursor of ['!!!', b64('garbage'), b64('["a","b","c"]'), b64('["not-a-date","x"]'), b64('[1.5]'), '%00']) {
      t.equal(await code(`${list}?cursor=${cursor}`), '400 HUB_ERR_INVALID_CURSOR', `${list} cursor=${cursor}`)
    }
    for (const limit of ['0', '-1', '1e9', 'abc', 'Infinity']) t.equal(await code(`${list}?limit=${limit}`), '400 HUB_ERR_VALIDATION', `${list} limit=${limit}`)
    t.equal(await code(`${list}?limit=1`), '200', `${list} limit=1`)
  }
  t.equal(await code('/api/devices?q=%00'), '400 HUB_ERR_VALIDATION')
  t.equal(await code('/api/devices/%00'), '400 HUB_ERR_VALIDATION')
  t.equal(await code('/api/devices/no-such-device'), '404 HUB_ERR_NOT_FOUND', 'a well-formed id that names nothing')
  t.equal(await code('/api/devices/%ED%A0%80'), '400 FST_ERR_BAD_URL', 'a path the router cannot decode')
  t.equal(await code(`/api/campaigns/urn:uuid:${ZERO_UUID}`), '400 HUB_ERR_VALIDATION', 'ajv-formats\' uuid accepts this; Postgres does not')
  t.equal(await code('/api/audit?before=1e30'), '400 HUB_ERR_VALIDATION')
  t.equal(await code('/api/audit?before=9007199254740991'), '200')
  const telemetry = `/api/devices/${device.id as string}/telemetry`
  for (const from of ['8640000000000000', '253402300800000', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '2021-02-30', 'yesterday', '-1', 'NaN']) {
    t.equal(await code(`${telemetry}?from=${from}`), '400 HUB_ERR_VALIDATION', `from=${from}`)
  }
  for (const from of ['0', '253402300799999', '2024-01-01', '2024-01-01T00:00:00Z', '2024-01-01T06:30:00%2B06:30']) {
    t.equal(await code(`${telemetry}?from=${from}`), '200', `from=${from}`)
    t.equal(await code(`/api/notifications?from=${from}`), '200', `notifications from=${from}`)
  }
})

t.test('every route of the OpenAPI document refuses hostile input with a coded 4xx, never a 5xx', async (t) => {
  const token = await hub.login()

  // Objects for path parameters to name, so that query and body values get past "not found".
  const { device } = await hub.createDevice(token, { tags: ['walk'] })
  const seeds = [
    await hub.api(token, 'POST', `/api/devices/${device.id as string}/commands`, { op: 'listProfiles' }),
    await hub.api(token, 'POST', '/api/campaigns', { name: 'walk', op: 'listProfiles', filter: { deviceIds: [device.id] } }),
    await hub.api(token, 'POST', '/api/api-keys', { name: 'walk', role: 'viewer' }),
    await hub.api(token, 'POST', '/api/users', { email: 'walker@example.test', password: 'a long and unusual passphrase for the walk', role: 'viewer' })
  ]
  for (const seed of seeds) t.ok(seed.status < 300, `seeded: ${JSON.stringify(seed.body).slice(0, 120)}`)

  const doc = await (await fetch(hub.httpUrl + '/docs/json')).json() as { paths: Record<string, Record<string, Operation>> }
  const routes: Route[] = []
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) routes.push({ method: method.toUpperCase(), template, op })
    }
  }
  t.ok(routes.length >= 40, `the document lists the routes (${routes.length})`)

  const send = async (method: string, url: string, body?: string) => {
    const headers: Record<string, string> = { authorization: 'Bearer ' + token }
    if (body !== undefined) headers['content-type'] = 'application/json'
    try {
      const res = await fetch(hub.httpUrl + url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(15_000) })
      return { status: res.status, text: await res.text() }
    } catch (err) {
      return { status: 0, text: String(err) }
    }
  }

  // Ids of existing objects, by collection (the path segment before the parameter): every list the
  // document declares is read, those needing an id once the ids of their parent are known.
  const ids = new Map<string, string[]>()
  const collectionOf = (template: string, param: string) => {
    const segments = template.split('/')
    const at = segments.indexOf(`{${param}}`)
    return segments.slice(0, at).filter((s) => !s.startsWith('{')).at(-1) ?? ''
  }
  const paramsOf = (r: Route, where: 'path' | 'query') => (r.op.parameters ?? []).filter((p) => p.in === where)
  const fill = (r: Route, values: Record<string, string> = {}) =>
    r.template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? ids.get(collectionOf(r.template, name))?.[0] ?? ZERO_UUID)
  const requiredQuery = (r: Route, except?: string) => paramsOf(r, 'query')
    .filter((p) => p.required === true && p.name !== except)
    .map((p) => `${p.name}=${encodeURIComponent(String(validValue(p.schema, ids)))}`)
  for (let pass = 0; pass < 2; pass++) {
    for (const r of routes.filter((r) => r.method === 'GET')) {
      if (pass === 0 && paramsOf(r, 'path').length > 0) continue
      const query = requiredQuery(r)
      const res = await send('GET', fill(r) + (query.length > 0 ? '?' + query.join('&') : ''))
      if (res.status !== 200 || !res.text.startsWith('{')) continue
      const items = (JSON.parse(res.text) as { items?: unknown }).items
      if (!Array.isArray(items)) continue
      const found = items.map((i) => (i as { id?: unknown }).id).filter((id) => typeof id === 'string' || typeof id === 'number').map(String)
      const collection = r.template.split('/').at(-1) as string
      if (found.length > 0) ids.set(collection, [...new Set([...(ids.get(collection) ?? []), ...found])])
    }
  }

  /** Routes that end the session the walk runs on go last. */
  const endsSession = (r: Route) => /\/logout$/.test(r.template)
  const ordered = [...routes.filter((r) => !endsSession(r)), ...routes.filter(endsSession)]
  let requests = 0
  let resolved = 0
  for (const r of ordered) {
    const name = `${r.method} ${r.template}`
    const cases: Array<{ what: string, url: string, body?: string }> = []
    const pathParams = paramsOf(r, 'path')
    const queryParams = paramsOf(r, 'query')
    if (pathParams.every((p) => ids.has(collectionOf(r.template, p.name)))) resolved++
    // A DELETE never gets a real id: a hostile value that validates must not remove the walk's objects.
    const base = (values: Record<string, string> = {}) => r.method === 'DELETE' ? fill(r, Object.fromEntries(pathParams.map((p) => [p.name, ZERO_UUID]).concat(Object.entries(values)))) : fill(r, values)

    for (const p of pathParams) {
      for (const v of TEXT_VALUES) {
        const query = requiredQuery(r)
        cases.push({ what: `path ${p.name}=${describe(v)}`, url: base({ [p.name]: v }) + (query.length > 0 ? '?' + query.join('&') : '') })
      }
    }
    for (const p of queryParams) {
      const rest = requiredQuery(r, p.name)
      for (const v of QUERY_VALUES) cases.push({ what: `query ${p.name}=${describe(v)}`, url: base() + '?' + [...rest, `${p.name}=${v}`].join('&') })
      const inside = encodeURIComponent(String(validValue(p.schema, ids))).replace(/^(.)/, '$1%00')
      cases.push({ what: `query ${p.name}=${describe(inside)}`, url: base() + '?' + [...rest, `${p.name}=${inside}`].join('&') })
      cases.push({ what: `query ${p.name} repeated`, url: base() + '?' + [...rest, `${p.name}=a`, `${p.name}=b`].join('&') })
    }
    if (queryParams.length > 0 || r.method === 'GET') {
      cases.push({ what: 'query: an undeclared parameter', url: base() + '?' + [...requiredQuery(r), 'undeclared=%00'].join('&') })
    }

    const bodySchema = r.op.requestBody?.content?.['application/json']?.schema
    if (bodySchema !== undefined) {
      const valid = validValue(bodySchema, ids)
      const url = base()
      for (const raw of RAW_BODIES) cases.push({ what: `body ${describe(raw)}`, url, body: raw })
      cases.push({ what: 'body with an unknown field', url, body: JSON.stringify({ ...(valid as object), unknownField: '\u0000' }) })
      for (const path of fieldPaths(bodySchema)) {
        for (const v of FIELD_VALUES) cases.push({ what: `body ${path.join('.')}=${describe(v)}`, url, body: JSON.stringify(setAt(valid, path, v)) })
        // NUL inside a value that is otherwise valid (`a\u0000@example.test` still looks like an e-mail address)
        const leaf = path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], valid)
        const inside = typeof leaf === 'string' && leaf.length > 0 ? leaf.slice(0, 1) + '\u0000' + leaf.slice(1) : 'a\u0000@example.test'
        cases.push({ what: `body ${path.join('.')}=${describe(inside)}`, url, body: JSON.stringify(setAt(valid, path, inside)) })
      }
    }

    const failures: string[] = []
    const batch = 16
    for (let i = 0; i < cases.length; i += batch) {
      await Promise.all(cases.slice(i, i + batch).map(async (c) => {
        const res = await send(r.method, c.url, c.body)
        requests++
        let coded = res.status >= 200 && res.status < 400
        if (!coded) {
          try {
            const error = (JSON.parse(res.text) as { error?: { code?: unknown, message?: unknown } }).error
            coded = typeof error?.code === 'string' && typeof error.message === 'string'
          } catch {}
        }
        if (res.status === 0 || res.status >= 500 || !coded) failures.push(`${name}: ${c.what} → ${res.status} ${res.text.slice(0, 200)}`)
      }))
    }
    t.same(failures, [], `${name}: ${cases.length} hostile requests, no 5xx, every refusal coded`)
  }
  t.comment(`walked ${routes.length} routes (${resolved} with every path parameter naming an existing object), ${requests} requests`)
})
