// RELIABILITY 64: one of two hub processes SIGKILLed under QoS 1 load. Its devices reconnect to the
// other; every acknowledged message is stored, and none twice; a command in flight to a device on the
// killed process is delivered again by the survivor.
import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'
import { connectDevice, skipScale, startHubProcess } from './hub-process.ts'
import { Qos1Publisher, storedSeqs } from './qos1-publisher.ts'

const DEVICES = 6

t.test('a hub process SIGKILLed under QoS 1 load loses nothing acknowledged and stores nothing twice', { skip: skipScale }, async (t) => {
  const env = { DATABASE_URL: await throwawayDatabase(t), REDIS_URL: process.env.REDIS_URL as string }
  const a = await startHubProcess(t, env)
  const b = await startHubProcess(t, env)
  const token = await b.login()
  const publishers: Qos1Publisher[] = []
  for (let i = 0; i < DEVICES; i++) {
    const res = await b.api(token, 'POST', '/api/devices', { name: `load ${i}` })
    t.equal(res.status, 201)
    // Half start on A (the one killed), half on B; each moves to the other when its connection fails.
    const urls = i % 2 === 0 ? [a.mqttUrl, b.mqttUrl] : [b.mqttUrl, a.mqttUrl]
    publishers.push(new Qos1Publisher(res.body.device.id, res.body.credentials, urls))
  }

  // A device on A holding a command it has not answered yet.
  const commanded = await b.api(token, 'POST', '/api/devices', { name: 'commanded' })
  const { id: commandedId } = commanded.body.device
  const onA = await connectDevice(t, a.mqttUrl, commanded.body.credentials)
  const seenOnA: string[] = []
  onA.on('message', (_topic, payload) => { seenOnA.push(JSON.parse(payload.toString()).id) })
  await onA.subscribeAsync(`devices/${commandedId as string}/commands/+`, { qos: 1 })
  const command = await b.api(token, 'POST', `/api/devices/${commandedId as string}/commands`, { op: 'listProfiles' })
  t.equal(command.status, 202)
  await eventually('the command at the device on A', () => seenOnA.includes(command.body.id))

  for (const p of publishers) p.start()
  t.teardown(() => Promise.all(publishers.map((p) => p.stop())))
  await eventually('load on both processes', () => publishers.every((p) => p.acked.size >= 5), { timeoutMs: 120_000 })

  await a.kill()
  const atKill = publishers.map((p) => p.acked.size)
  await eventually('every device publishing through B', () => publishers.every((p, i) => p.acked.size >= atKill[i] + 5), { timeoutMs: 120_000 })
  await Promise.all(publishers.map((p) => p.stop()))
  t.ok(publishers.filter((_p, i) => i % 2 === 0).every((p) => p.connections >= 2), "A's devices reconnected (to B)")

  for (const p of publishers) {
    const stored = await storedSeqs(b.api, token, p)
    const missing = [...p.acked].filter((seq) => !stored.includes(seq))
    const twice = stored.filter((seq, i) => stored[i - 1] === seq)
    t.same(missing, [], `${p.acked.size} acknowledged messages of ${p.deviceId} are all stored`)
    t.same(twice, [], 'none is stored twice')
  }

  // The command's device comes back on B: the command in flight is sent again (DUP), answered, done.
  const onB = await connectDevice(t, b.mqttUrl, commanded.body.credentials)
  const seenOnB: Array<{ id: string, dup: boolean }> = []
  onB.on('message', (_topic, payload, packet) => { seenOnB.push({ id: JSON.parse(payload.toString()).id, dup: packet.dup }) })
  await onB.subscribeAsync(`devices/${commandedId as string}/commands/+`, { qos: 1 })
  const again = await eventually('the command again, from B', () => seenOnB.find((m) => m.id === command.body.id))
  t.equal(again.dup, true, 'a redelivery is marked DUP')
  await onB.publishAsync(`devices/${commandedId as string}/commands/${command.body.id as string}/result`, JSON.stringify({ status: 'ok', data: { profiles: [] } }), { qos: 1 })
  await eventually('the command succeeded', async () => (await b.api(token, 'GET', `/api/commands/${command.body.id as string}`)).body.status === 'succeeded')
})
