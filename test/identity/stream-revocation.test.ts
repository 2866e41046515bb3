import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { request } from '../helpers/hub-client.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub, throwawayDatabase, type TestHub } from '../helpers/test-hub.ts'

// RELIABILITY case 59: an API key revoked, a user disabled, a session logged out → the event streams it
// opened end (within 2 s: the streams check the revocation list every 2 s); with Redis, a revocation made
// on one hub process ends the streams open on another.

/** Generous, so a slow machine does not fail it; a stream that is never ended fails it. */
const END_WAIT_MS = 15_000
const ends = (stream: SseClient) => new Promise<boolean>((resolve) => {
  const timer = setTimeout(() => resolve(false), END_WAIT_MS)
  stream.ended.then(() => { clearTimeout(timer); resolve(true) }, () => resolve(false))
})

async function openStream (t: Test, hub: TestHub, bearer: string): Promise<SseClient> {
  const issued = await hub.api(bearer, 'POST', '/api/events/ticket')
  t.equal(issued.status, 200, 'a ticket is issued')
  const stream = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${issued.body.ticket as string}`)
  t.teardown(() => stream.close())
  t.equal(stream.status, 200, 'the stream opens')
  return stream
}

/** The stream is live: an event made now (a device created on `on`) reaches it. */
async function receives (t: Test, stream: SseClient, on: TestHub, token: string): Promise<void> {
  const { device } = await on.createDevice(token)
  const event = await stream.next((e) => e.event === 'device.created' && e.data.device.id === device.id)
  t.ok(event, 'the stream receives the tenant\'s events')
}

t.test('59: revocations end the event streams they concern', async (t) => {
  const hub = await startTestHub(t)
  const admin = await hub.login()

  t.test('stream tickets are not audited one by one; a refused one is', async (t) => {
    const count = async (outcome: string) => {
      await hub.audit.flush()
      const [row] = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from audit_log where action = 'POST /api/events/ticket' and outcome = ${outcome}`)
      return row.n
    }
    for (let i = 0; i < 3; i++) t.equal((await hub.api(admin, 'POST', '/api/events/ticket')).status, 200)
    t.equal(await count('success'), 0, 'a dashboard reconnect writes no audit row')
    const refused = await request(hub.httpUrl, 'POST', '/api/events/ticket', { headers: { authorization: 'Bearer ' + admin, origin: 'https://evil.example' } })
    t.equal(refused.status, 403)
    t.equal(await count('denied'), 1, 'a cross-origin ticket request is audited as denied')
  })

  t.test('an API key revoked', async (t) => {
    const created = await hub.api(admin, 'POST', '/api/api-keys', { name: 'stream reader', role: 'viewer' })
    t.equal(created.status, 201)
    const stream = await openStream(t, hub, created.body.key)
    const spare = (await hub.api(created.body.key, 'POST', '/api/events/ticket')).body.ticket as string
    const other = await openStream(t, hub, admin)
    await receives(t, stream, hub, admin)
    t.equal((await hub.api(admin, 'DELETE', `/api/api-keys/${created.body.apiKey.id as string}`)).status, 204)
    t.ok(await ends(stream), 'the key\'s stream is ended by the hub')
    const late = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${spare}`)
    t.teardown(() => late.close())
    t.equal(late.status, 401, 'a ticket the key took before its revocation no longer opens a stream')
    await receives(t, other, hub, admin)
    t.pass('a stream of another credential stays open')
  })

  t.test('a user disabled', async (t) => {
    const email = 'stream-op@example.test'
    const password = 'a sturdy passphrase 42'
    const user = await hub.api(admin, 'POST', '/api/users', { email, password, role: 'operator' })
    t.equal(user.status, 201)
    const signIn = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email, password } })
    t.equal(signIn.status, 200)
    const stream = await openStream(t, hub, signIn.body.accessToken)
    await receives(t, stream, hub, admin)
    t.equal((await hub.api(admin, 'PATCH', `/api/users/${user.body.id as string}`, { disabled: true })).status, 200)
    t.ok(await ends(stream), 'the disabled user\'s stream is ended by the hub')
  })

  t.test('a session logged out', async (t) => {
    const signIn = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin })
    t.equal(signIn.status, 200)
    const token = signIn.body.accessToken as string
    const stream = await openStream(t, hub, token)
    const other = await openStream(t, hub, admin)
    await receives(t, stream, hub, admin)
    t.equal((await request(hub.httpUrl, 'POST', '/api/auth/logout', { headers: { authorization: 'Bearer ' + token } })).status, 204)
    t.ok(await ends(stream), 'the logged-out session\'s stream is ended by the hub')
    await receives(t, other, hub, admin)
    t.pass('the same user\'s other session keeps its stream')
  })
})

// Two hub processes' worth of hub (two hubs in this process, each with its own memory) on one database and
// one Redis: only the Redis revocation list connects them.
t.test('59: a revocation on one hub ends the streams open on another', { skip: process.env.REDIS_URL === undefined || process.env.DATABASE_URL === undefined ? 'needs DATABASE_URL and REDIS_URL' : false }, async (t) => {
  const shared = await throwawayDatabase(t)
  const a = await startTestHub(t, { env: { DATABASE_URL: shared } })
  const b = await startTestHub(t, { env: { DATABASE_URL: shared } })
  const adminA = await a.login()
  const adminB = await b.login()

  const created = await a.api(adminA, 'POST', '/api/api-keys', { name: 'far reader', role: 'viewer' })
  t.equal(created.status, 201)
  const keyStream = await openStream(t, b, created.body.key)
  await receives(t, keyStream, b, adminB)

  const email = 'far-op@example.test'
  const password = 'a sturdy passphrase 42'
  const user = await a.api(adminA, 'POST', '/api/users', { email, password, role: 'operator' })
  t.equal(user.status, 201)
  const opOnB = await request(b.httpUrl, 'POST', '/api/auth/login', { body: { email, password } })
  t.equal(opOnB.status, 200)
  const userStream = await openStream(t, b, opOnB.body.accessToken)

  const sessionOnB = await request(b.httpUrl, 'POST', '/api/auth/login', { body: b.admin })
  const sessionStream = await openStream(t, b, sessionOnB.body.accessToken)

  t.equal((await a.api(adminA, 'DELETE', `/api/api-keys/${created.body.apiKey.id as string}`)).status, 204)
  t.ok(await ends(keyStream), 'the key revoked on hub A ends its stream on hub B')
  t.equal((await a.api(adminA, 'PATCH', `/api/users/${user.body.id as string}`, { disabled: true })).status, 200)
  t.ok(await ends(userStream), 'the user disabled on hub A loses its stream on hub B')
  t.equal((await request(a.httpUrl, 'POST', '/api/auth/logout', { headers: { authorization: 'Bearer ' + (sessionOnB.body.accessToken as string) } })).status, 204)
  t.ok(await ends(sessionStream), 'the session logged out on hub A loses its stream on hub B')
})
