// RELIABILITY 63: Redis killed for 10 s under QoS 1 load, two hub processes on it. Ingest goes on,
// nothing acknowledged is lost or stored twice, the dashboard's stream resynchronizes, and commands
// issued on one process reach devices on the other once Redis is back. The test runs a Redis server of
// its own on a free port (never the shared one), kills it by pid and starts it again on that port.
import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'
import { startPrivateRedis } from '../helpers/private-redis.ts'
import { connectDevice, skipScale, startHubProcess } from './hub-process.ts'
import { Qos1Publisher, storedSeqs } from './qos1-publisher.ts'

const DEVICES = 4
const OUTAGE_MS = 10_000

t.test('Redis killed for 10 s under QoS 1 load', { skip: skipScale }, async (t) => {
  const first = await startPrivateRedis(t)
  let redis = first.server
  const env = { DATABASE_URL: await throwawayDatabase(t), REDIS_URL: first.url }
  const a = await startHubProcess(t, env)
  const b = await startHubProcess(t, env)
  const token = await a.login()
  const publishers: Qos1Publisher[] = []
  for (let i = 0; i < DEVICES; i++) {
    const res = await a.api(token, 'POST', '/api/devices', { name: `load ${i}` })
    publishers.push(new Qos1Publisher(res.body.device.id, res.body.credentials, i % 2 === 0 ? [a.mqttUrl, b.mqttUrl] : [b.mqttUrl, a.mqttUrl]))
  }
  const commanded = await a.api(token, 'POST', '/api/devices', { name: 'commanded' })
  const commandedId = commanded.body.device.id as string
  const onB = await connectDevice(t, b.mqttUrl, commanded.body.credentials)
  const seenOnB: string[] = []
  onB.on('message', (_topic, payload) => { seenOnB.push(JSON.parse(payload.toString()).id) })
  await onB.subscribeAsync(`devices/${commandedId}/commands/+`, { qos: 1 })

  const sse = await SseClient.open(`${a.httpUrl}/api/events?ticket=${(await a.api(token, 'POST', '/api/events/ticket')).body.ticket as string}`)
  t.teardown(() => sse.close())
  for (const p of publishers) p.start()
  t.teardown(() => Promise.all(publishers.map((p) => p.stop())))
  await eventually('load before the outage', () => publishers.every((p) => p.acked.size >= 3), { timeoutMs: 120_000 })
  const lastId = (await sse.next((e) => e.event === 'telemetry')).id as string

  redis.kill('SIGKILL')
  const down = Date.now()
  const atKill = publishers.map((p) => p.acked.size)
  // The outage lasts OUTAGE_MS; meanwhile every device's messages go on being acknowledged.
  await eventually('ingest going on through the outage', () => Date.now() - down >= OUTAGE_MS && publishers.every((p, i) => p.acked.size >= atKill[i] + 3), { timeoutMs: 120_000 })
  // A stream cannot check its session's revocation without Redis: it is closed (fail closed).
  await sse.ended
  redis = (await startPrivateRedis(t, first.port)).server

  // The dashboard reconnects with its last event id and is told to resync (events were missed).
  const ticket = await eventually('a stream ticket again', async () => {
    const res = await a.api(token, 'POST', '/api/events/ticket')
    return res.status === 200 ? res.body.ticket as string : undefined
  }, { timeoutMs: 60_000 })
  const again = await SseClient.open(`${a.httpUrl}/api/events?ticket=${ticket}&lastEventId=${lastId}`)
  t.teardown(() => again.close())
  await again.next((e) => e.event === 'resync', 60_000)
  // Live again across processes: telemetry of a device on B reaches A's stream.
  const onBNow = publishers.filter((_p, i) => i % 2 === 1).map((p) => p.deviceId)
  await again.next((e) => e.event === 'telemetry' && onBNow.includes(e.data.deviceId), 60_000)

  // A command issued on A reaches the device on B.
  const command = await eventually('a command accepted', async () => {
    const res = await a.api(token, 'POST', `/api/devices/${commandedId}/commands`, { op: 'listProfiles' })
    return res.status === 202 ? res.body : undefined
  })
  await eventually('the command at the device on B', () => seenOnB.includes(command.id), { timeoutMs: 60_000 })

  await Promise.all(publishers.map((p) => p.stop()))
  for (const p of publishers) {
    const stored = await storedSeqs(a.api, token, p)
    t.same([...p.acked].filter((seq) => !stored.includes(seq)), [], `${p.acked.size} acknowledged messages of ${p.deviceId} are all stored`)
    t.same(stored.filter((seq, i) => stored[i - 1] === seq), [], 'none is stored twice')
  }
})
