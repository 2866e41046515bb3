import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { sql, type SQL } from 'drizzle-orm'
import { request } from '../helpers/hub-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// RELIABILITY E38 (roles; cross-tenant reads by id → 404, audited), API keys, tenants, E40 (SSE origin),
// E42 (bad bodies and filters never 500).
t.test('tenants, roles, API keys', async (t) => {
  const hub = await startTestHub(t)
  const root = await hub.login() // the first admin is a platform admin of the default tenant
  const password = 'a sturdy passphrase 42'
  const signIn = async (email: string) => {
    const res = await hub.api('', 'POST', '/api/auth/login', { email, password })
    t.equal(res.status, 200, 'signed in ' + email)
    return res.body.accessToken as string
  }

  const other = await hub.api(root, 'POST', '/api/tenants', { name: 'Other Carrier' })
  t.equal(other.status, 201)
  t.equal((await hub.api(root, 'POST', '/api/tenants', { name: 'Other Carrier' })).status, 409)
  for (const [email, role, tenantId] of [
    ['tech@example.test', 'technician', undefined], ['viewer@example.test', 'viewer', undefined],
    ['op@example.test', 'operator', undefined], ['admin2@other.test', 'admin', other.body.id], ['op2@other.test', 'operator', other.body.id]
  ] as const) {
    t.equal((await hub.api(root, 'POST', '/api/users', { email, password, role, tenantId })).status, 201, email)
  }
  /** Audit rows matching `where`, waiting briefly for the response hooks that write them. */
  const auditCount = async (where: SQL, expected: number) => {
    let n = 0
    await eventually(`${expected} audit rows`, async () => {
      await hub.audit.flush()
      n = (await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from audit_log where ${where}`))[0].n
      return n >= expected
    }).catch(() => {})
    return n
  }
  const tech = await signIn('tech@example.test')
  const viewer = await signIn('viewer@example.test')
  const operator = await signIn('op@example.test')
  const otherAdmin = await signIn('admin2@other.test')
  const otherOp = await signIn('op2@other.test')

  t.test('E38: a technician calling admin routes → 403, audited', async (t) => {
    for (const [method, path, body] of [
      ['GET', '/api/users'], ['POST', '/api/users', { email: 'x@example.test', password, role: 'admin' }],
      ['GET', '/api/api-keys'], ['POST', '/api/api-keys', { name: 'k', role: 'admin' }], ['GET', '/api/audit'],
      ['GET', '/api/audit/verify'], ['GET', '/api/tenants'], ['POST', '/api/tenants', { name: 'mine' }]
    ] as const) {
      const res = await hub.api(tech, method, path, body)
      t.equal(res.status, 403, `${method} ${path}`)
    }
    t.equal((await hub.api(otherAdmin, 'GET', '/api/tenants')).status, 403, 'a tenant admin is not a platform admin')
    t.equal((await hub.api(viewer, 'POST', '/api/devices', { name: 'nope' })).status, 403, 'viewers read only')
    const n = await auditCount(sql`outcome = 'denied' and action = 'POST /api/users'`, 1)
    t.equal(n, 1, 'the denied admin call is in the audit log')
  })

  t.test('E38: every object of another tenant is out of reach (404), audited', async (t) => {
    const { device } = await hub.createDevice(operator, { name: 'ours' })
    for (const [method, path, body] of [
      ['GET', `/api/devices/${device.id}`], ['PATCH', `/api/devices/${device.id}`, { name: 'pwned' }],
      ['DELETE', `/api/devices/${device.id}`], ['GET', `/api/devices/${device.id}/telemetry`]
    ] as const) {
      t.equal((await hub.api(otherOp, method, path, body)).status, 404, `device: ${method} ${path}`)
    }
    const list = await hub.api(otherOp, 'GET', '/api/devices')
    t.same(list.body.items, [], 'not listed either')
    const users = await hub.api(otherAdmin, 'GET', '/api/users')
    t.same(users.body.items.map((u: { email: string }) => u.email).sort(), ['admin2@other.test', 'op2@other.test'], 'users: own tenant only')
    const techId = (await hub.api(root, 'GET', '/api/users')).body.items.find((u: { email: string }) => u.email === 'tech@example.test').id
    t.equal((await hub.api(otherAdmin, 'PATCH', `/api/users/${techId}`, { role: 'admin' })).status, 404, 'users: another tenant\'s user by id')
    t.equal((await hub.api(otherAdmin, 'POST', '/api/users', { email: 'sneak@example.test', password, role: 'admin', tenantId: hub.bootstrap.tenantId })).status, 403, 'users: creating into another tenant')
    const key = await hub.api(root, 'POST', '/api/api-keys', { name: 'ours', role: 'viewer' })
    t.equal((await hub.api(otherAdmin, 'DELETE', `/api/api-keys/${key.body.apiKey.id}`)).status, 404, 'api keys: another tenant\'s key')
    t.same((await hub.api(otherAdmin, 'GET', '/api/api-keys')).body.items, [], 'api keys: not listed')
    await hub.audit.flush()
    const theirs = await hub.api(otherAdmin, 'GET', '/api/audit?limit=500')
    t.ok(theirs.body.items.every((r: { tenantId: string }) => r.tenantId === other.body.id), 'audit: own tenant\'s rows only')
    const probes = await auditCount(sql`outcome = 'denied' and target = ${device.id} and tenant_id = ${other.body.id}`, 4)
    t.equal(probes, 4, 'the cross-tenant probes are audited')
    t.equal((await hub.api(operator, 'GET', `/api/devices/${device.id}`)).body.name, 'ours', 'the device is untouched')
  })

  t.test('API keys: shown once, scoped to tenant and role, revocable at once', async (t) => {
    const created = await hub.api(root, 'POST', '/api/api-keys', { name: 'ci', role: 'viewer' })
    t.equal(created.status, 201)
    const key = created.body.key as string
    t.match(key, /^hubk_/)
    const listed = await hub.api(root, 'GET', '/api/api-keys')
    const secret = key.slice(-43) // hubk_<uuid>_<43-character secret>; the secret may itself contain '_'
    t.notOk(JSON.stringify(listed.body).includes(secret), 'the secret is not listed')
    const [row] = await hub.database.rows<{ key_hash: string }>(sql`select key_hash from api_keys where id = ${created.body.apiKey.id}`)
    t.not(row.key_hash, key, 'stored hashed')
    t.equal((await hub.api(key, 'GET', '/api/devices')).status, 200, 'the key reads devices')
    t.equal((await hub.api(key, 'POST', '/api/devices', { name: 'x' })).status, 403, 'with its role (viewer)')
    const adminKey = (await hub.api(root, 'POST', '/api/api-keys', { name: 'admin-key', role: 'admin' })).body.key
    t.equal((await hub.api(adminKey, 'GET', '/api/users')).status, 403, 'keys do not manage users')
    t.equal((await hub.api(adminKey, 'POST', '/api/api-keys', { name: 'x', role: 'admin' })).status, 403, 'nor keys')
    t.equal((await hub.api(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), 'GET', '/api/devices')).status, 401, 'a wrong secret')
    t.equal((await hub.api(root, 'DELETE', `/api/api-keys/${created.body.apiKey.id}`)).status, 204)
    t.equal((await hub.api(key, 'GET', '/api/devices')).status, 401, 'revoked: refused at once')
  })

  t.test('E40: SSE from another origin is refused; tickets are short-lived', async (t) => {
    const ticket = await hub.api(root, 'POST', '/api/events/ticket')
    t.ok(ticket.body.expiresIn <= 60)
    const cross = await request(hub.httpUrl, 'GET', `/api/events?ticket=${ticket.body.ticket}`, { headers: { origin: 'https://evil.example' } })
    t.equal(cross.status, 403)
    const none = await request(hub.httpUrl, 'GET', '/api/events')
    t.equal(none.status, 400, 'no ticket')
    const { StreamTickets } = await import('../../server/events/stream-tickets.ts')
    const tickets = new StreamTickets(20)
    const expired = tickets.issue({ userId: 'u', tenantId: 't', role: 'admin', sessionId: 's' })
    const now = Date.now
    Date.now = () => now() + 40 // 40 ms later
    t.teardown(() => { Date.now = now })
    t.equal(tickets.redeem(expired), null, 'an expired ticket is refused')
    Date.now = now
  })

  t.test('E42: unknown fields, huge bodies, deep nesting, SQL metacharacters → 4xx, never 500', async (t) => {
    t.equal((await hub.api(root, 'POST', '/api/users', { email: 'a@b.c', password, role: 'viewer', admin: true })).status, 400)
    t.equal((await hub.api(root, 'PATCH', '/api/users/not-a-uuid', { role: 'admin' })).status, 400)
    t.equal((await hub.api(root, 'POST', '/api/api-keys', { name: 'x'.repeat(2 * 1024 * 1024), role: 'viewer' })).status, 413)
    const deep = '{"name":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '}'
    const nested = await request(hub.httpUrl, 'POST', '/api/tenants', { headers: { authorization: 'Bearer ' + root, 'content-type': 'application/json' }, raw: deep })
    t.ok([400, 413].includes(nested.status), `deep nesting → ${nested.status}`)
    for (const q of ["' or 1=1 --", '%_\\', '"; drop table users; --']) {
      t.equal((await hub.api(root, 'GET', `/api/devices?q=${encodeURIComponent(q)}`)).status, 200, q)
      t.equal((await hub.api(root, 'GET', `/api/audit?action=${encodeURIComponent(q)}`)).status, 200, q)
    }
    t.equal((await hub.api(root, 'GET', '/api/audit?before=abc')).status, 400)
  })
})
