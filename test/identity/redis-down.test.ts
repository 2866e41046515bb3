import t from 'tap'
import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { request } from '../helpers/hub-client.ts'
import { eventually } from '../helpers/eventually.ts'
import { startPrivateRedis } from '../helpers/private-redis.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// RELIABILITY E37: with Redis down, sign-in fails closed with a generic 503 (not 500, not unlimited),
// tokens are not trusted without the revocation list, and MQTT ingest goes on. A private redis-server on
// a free port is started and killed; the shared one is never touched.
t.test('E37: Redis down → login and token checks fail closed with 503; ingest unaffected', async (t) => {
  const { url, server: redis } = await startPrivateRedis(t)
  let exited = false
  redis.on('exit', () => { exited = true })

  const hub = await startTestHub(t, { env: { REDIS_URL: url } })
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync())

  redis.kill('SIGKILL')
  await new Promise<void>((resolve) => { if (exited) resolve(); else redis.once('exit', () => resolve()) })

  // The hub hears of the lost connection a moment later (nothing announces it): sign-in is never
  // accepted meanwhile, and is refused with a 503 once it knows.
  const login = await eventually('sign-in refused while Redis is down', async () => {
    const answer = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin })
    if (answer.status === 200) throw new Error('sign-in accepted while Redis is down')
    return answer.status === 503 && answer
  })
  t.equal(login.status, 503, 'sign-in is refused with 503')
  t.same(login.body, { error: { code: 'HUB_ERR_UNAVAILABLE', message: 'Service temporarily unavailable' } }, 'with a generic body')
  const wrong = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { ...hub.admin, password: 'wrong password!!' } })
  t.equal(wrong.status, 503, 'wrong passwords too: no unlimited guessing while Redis is down')
  t.equal((await hub.api(token, 'GET', '/api/devices')).status, 503, 'an access token cannot be checked against revocations: 503')

  const ts = Date.now()
  await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts, seq: 1, rsrp: -90 }), { qos: 1 })
  const rows = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from telemetry where device_id = ${device.id}`)
  t.equal(rows[0].n, 1, 'QoS 1 telemetry is acknowledged and stored while Redis is down')
})
