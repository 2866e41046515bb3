import t from 'tap'
import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { hashPassword } from '../../server/auth/passwords.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

t.test('device API', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()

  t.test('create returns the secret once; only its hash is stored', async (t) => {
    const created = await hub.createDevice(token, { name: 'meter', eid: '89049032123451234512345678901235', imei: '490154203237518', tags: ['a', 'b'] })
    t.equal(created.credentials.password.length, 43)
    t.equal(created.credentials.username, created.device.id)
    const [row] = await hub.database.rows<{ secret_hash: string }>(sql`select secret_hash from devices where id = ${created.device.id}`)
    t.not(row.secret_hash, created.credentials.password)
    t.notMatch(JSON.stringify((await hub.api(token, 'GET', `/api/devices/${created.device.id}`)).body), created.credentials.password, 'never shown again')
    t.equal((await hub.api(token, 'POST', '/api/devices', { name: 'dup', eid: '89049032123451234512345678901235' })).status, 409, 'an EID belongs to one device')
  })

  t.test('bad bodies are 400, never 500', async (t) => {
    for (const body of [{}, { name: '' }, { name: 'x', eid: '123' }, { name: 'x', imei: 'abc' }, { name: 'x', unknown: 1 }, { name: 'x', tags: 'a' }, { name: 'x\u0000y' }]) {
      const res = await hub.api(token, 'POST', '/api/devices', body)
      t.equal(res.status, 400, JSON.stringify(body))
      t.equal(res.body.error.code, 'HUB_ERR_VALIDATION')
    }
    const huge = await fetch(hub.httpUrl + '/api/devices', { method: 'POST', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) })
    t.equal(huge.status, 413)
    t.equal((await hub.api(token, 'GET', '/api/devices?q=%27%3B%20drop%20table%20devices%3B--')).status, 200, 'SQL metacharacters in filters are just text')
    t.equal((await hub.api(token, 'GET', '/api/devices?cursor=garbage')).status, 400)
    t.equal((await hub.api(token, 'GET', '/api/devices?limit=100000')).status, 400)
  })

  t.test('list: filters and cursor pagination', async (t) => {
    for (let i = 0; i < 5; i++) await hub.createDevice(token, { name: `sensor-${i}`, tags: i % 2 === 0 ? ['even'] : ['odd'] })
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: { status: number, body: { items: Array<{ id: string }>, nextCursor: string | null } } = await hub.api(token, 'GET', '/api/devices?limit=2&q=sensor-' + (cursor === null ? '' : '&cursor=' + cursor))
      t.ok(page.body.items.length <= 2)
      seen.push(...page.body.items.map((d) => d.id))
      cursor = page.body.nextCursor
    } while (cursor !== null)
    t.equal(seen.length, 5)
    t.equal(new Set(seen).size, 5, 'no device twice across pages')
    const even = await hub.api(token, 'GET', '/api/devices?tag=even')
    t.same(even.body.items.map((d: { name: string }) => d.name).sort(), ['sensor-0', 'sensor-2', 'sensor-4'])
  })

  t.test('update and delete; a deleted device cannot connect', async (t) => {
    const { device, credentials } = await hub.createDevice(token, { name: 'temp' })
    const patched = await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { name: 'renamed', tags: ['x'] })
    t.equal(patched.body.name, 'renamed')
    t.same(patched.body.tags, ['x'])
    t.equal((await hub.api(token, 'DELETE', `/api/devices/${device.id}`)).status, 204)
    t.equal((await hub.api(token, 'GET', `/api/devices/${device.id}`)).status, 404)
    t.equal((await hub.api(token, 'DELETE', `/api/devices/${device.id}`)).status, 404)
    const err = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 }).then(() => null, (e: { code?: number }) => e)
    t.equal(err?.code, 4)
  })

  t.test('another tenant\'s device answers 404; viewers cannot write', async (t) => {
    const { device } = await hub.createDevice(token, { name: 'mine' })
    const { sql: q } = await import('drizzle-orm')
    const [tenant] = await hub.database.rows<{ id: string }>(q`insert into tenants (name) values ('other') returning id`)
    const passwordHash = await hashPassword('another long password')
    await hub.database.rows(q`insert into users (tenant_id, email, password_hash, role) values (${tenant.id}, 'viewer@other.test', ${passwordHash}, 'viewer')`)
    const other = (await hub.api('', 'POST', '/api/auth/login', { email: 'viewer@other.test', password: 'another long password' })).body.accessToken
    t.equal((await hub.api(other, 'GET', `/api/devices/${device.id}`)).status, 404)
    t.equal((await hub.api(other, 'GET', `/api/devices/${device.id}/telemetry`)).status, 404)
    t.same((await hub.api(other, 'GET', '/api/devices')).body.items, [])
    t.same((await hub.api(other, 'GET', '/api/fleet/summary')).body, { total: 0, online: 0, offline: 0 })
    t.equal((await hub.api(other, 'POST', '/api/devices', { name: 'nope' })).status, 403)
    t.equal((await hub.api(other, 'DELETE', `/api/devices/${device.id}`)).status, 403)
  })
})

t.test('SSE: tickets are single-use, events resume from Last-Event-ID', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  t.equal((await fetch(hub.httpUrl + '/api/events?ticket=nope')).status, 401)
  const ticket = (await hub.api(token, 'POST', '/api/events/ticket')).body.ticket
  const first = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
  t.teardown(() => first.close())
  const reused = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
  t.equal(reused.status, 401, 'a ticket opens one stream only')
  reused.close()

  const a = await hub.createDevice(token, { name: 'a' })
  const created = await first.next((e) => e.event === 'device.created' && e.data.device.id === a.device.id)
  first.close()
  const b = await hub.createDevice(token, { name: 'b' })
  const c = await hub.createDevice(token, { name: 'c' })

  const resumed = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${(await hub.api(token, 'POST', '/api/events/ticket')).body.ticket}`, { 'last-event-id': created.id as string })
  t.teardown(() => resumed.close())
  const missedB = await resumed.next((e) => e.event === 'device.created' && e.data.device.id === b.device.id)
  const missedC = await resumed.next((e) => e.event === 'device.created' && e.data.device.id === c.device.id)
  t.ok(missedB && missedC, 'the events missed while disconnected are replayed')
  t.notOk(resumed.events.some((e) => e.event === 'device.created' && e.data.device.id === a.device.id), 'and nothing before the last id')

  const stale = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${(await hub.api(token, 'POST', '/api/events/ticket')).body.ticket}&lastEventId=old-1`)
  t.teardown(() => stale.close())
  t.ok(await stale.next((e) => e.event === 'resync'), 'an id from another run asks the client to resync')
})

t.test('operations endpoints', async (t) => {
  const hub = await startTestHub(t)
  t.same((await hub.api('', 'GET', '/healthz')).body, { status: 'ok' })
  t.same((await hub.api('', 'GET', '/readyz')).body, { status: 'ready', checks: { database: 'ok', broker: 'ok' } })
  const metrics = await (await fetch(hub.httpUrl + '/metrics')).text()
  for (const name of ['hub_mqtt_connections', 'hub_mqtt_messages_in_total', 'hub_ingest_batch_rows', 'hub_ingest_commit_seconds', 'hub_ingest_quarantined_total']) {
    t.match(metrics, name)
  }
  const openapi = await hub.api('', 'GET', '/docs/json')
  t.ok(openapi.body.paths['/api/devices'], 'OpenAPI document at /docs')
  t.equal((await fetch(hub.httpUrl + '/docs')).status, 200)
  t.equal((await hub.api('', 'GET', '/api/nope')).body.error.code, 'HUB_ERR_NOT_FOUND')
  const page = await fetch(hub.httpUrl + '/')
  t.match(page.headers.get('content-security-policy') ?? '', "script-src 'self'")
})
