// Two hub processes on one Postgres database and one Redis (docs/scale-out.md): any process commands any
// device, SSE on one carries what happens on the other, a stream ticket taken on one opens the stream on
// the other, and a device's session moves between processes; a device's own MQTT traffic stays off Redis.
import t from 'tap'
import { Redis } from 'ioredis'
import { eventually } from '../helpers/eventually.ts'
import { request } from '../helpers/hub-client.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'
import { connectDevice, skipScale, startHubProcess } from './hub-process.ts'

t.test('two hub processes sharing Postgres and Redis', { skip: skipScale }, async (t) => {
  const env = { DATABASE_URL: await throwawayDatabase(t), REDIS_URL: process.env.REDIS_URL as string }
  // One after the other: the first creates the admin, the second finds it.
  const a = await startHubProcess(t, env)
  const b = await startHubProcess(t, env)
  const tokenA = await a.login()
  const tokenB = await b.login()
  const create = async () => {
    const res = await a.api(tokenA, 'POST', '/api/devices', { name: 'device ' + Math.random().toString(36).slice(2, 8) })
    t.equal(res.status, 201)
    return res.body as { device: { id: string }, credentials: { clientId: string, username: string, password: string } }
  }

  t.test('SSE on A carries the online state and telemetry of a device on B; a ticket of A opens a stream on B', async (t) => {
    const { device, credentials } = await create()
    const sseA = await SseClient.open(`${a.httpUrl}/api/events?ticket=${(await a.api(tokenA, 'POST', '/api/events/ticket')).body.ticket as string}`)
    t.teardown(() => sseA.close())
    t.equal(sseA.status, 200)
    const ticketOfA = (await a.api(tokenA, 'POST', '/api/events/ticket')).body.ticket as string
    const sseB = await SseClient.open(`${b.httpUrl}/api/events?ticket=${ticketOfA}`)
    t.teardown(() => sseB.close())
    t.equal(sseB.status, 200, 'a ticket is honoured by any process')
    const reused = await request(b.httpUrl, 'GET', `/api/events?ticket=${ticketOfA}`)
    t.equal(reused.status, 401, 'and burnt on all of them')

    const client = await connectDevice(t, b.mqttUrl, credentials)
    await sseA.next((e) => e.event === 'device.online' && e.data.deviceId === device.id)
    await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -88 }), { qos: 1 })
    const event = await sseA.next((e) => e.event === 'telemetry' && e.data.deviceId === device.id)
    t.equal(event.data.rsrp, -88)
    await sseB.next((e) => e.event === 'telemetry' && e.data.deviceId === device.id)
    const seenOnA = await a.api(tokenA, 'GET', `/api/devices/${device.id}`)
    t.equal(seenOnA.body.status, 'online', 'A knows the device is online on B')
    await client.endAsync()
    await sseA.next((e) => e.event === 'device.offline' && e.data.deviceId === device.id)
  })

  t.test('a command issued on A reaches a device connected to B, and its result ends it; none of the device\'s MQTT traffic goes through Redis', async (t) => {
    const { device, credentials } = await create()
    // Whatever the MQTT router would route through Redis for this device appears on this pattern.
    const observer = new Redis(process.env.REDIS_URL as string)
    t.teardown(() => observer.disconnect())
    const throughRedis: string[] = []
    observer.on('pmessage', (_pattern, channel) => { throughRedis.push(channel) })
    await observer.psubscribe(`euicc-hub:*:mqtt:devices/${device.id}/*`)
    const client = await connectDevice(t, b.mqttUrl, credentials)
    const received: Array<{ topic: string, message: { id: string } }> = []
    client.on('message', (topic, payload) => { received.push({ topic, message: JSON.parse(payload.toString()) }) })
    await client.subscribeAsync(`devices/${device.id}/commands/+`, { qos: 1 })
    const issued = await a.api(tokenA, 'POST', `/api/devices/${device.id}/commands`, { op: 'listProfiles' })
    t.equal(issued.status, 202)
    const delivered = await eventually('the command on B', () => received.find((r) => r.message.id === issued.body.id))
    t.equal(delivered.topic, `devices/${device.id}/commands/${issued.body.id as string}`)
    await client.publishAsync(`devices/${device.id}/commands/${issued.body.id as string}/result`, JSON.stringify({ status: 'ok', data: { profiles: [] } }), { qos: 1 })
    const ended = await eventually('the command done, seen from A', async () => {
      const res = await a.api(tokenA, 'GET', `/api/commands/${issued.body.id as string}`)
      return res.body.status === 'succeeded' ? res.body : undefined
    })
    t.equal(ended.deliveries, 1, 'delivered once')
    t.equal(received.length, 1)
    await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -90 }), { qos: 1 })
    // A PUBLISH through Redis would have come back to the observer before its PUBACK (the router's
    // own subscriber is just another client of the same Redis); a round trip more to be sure.
    await observer.ping()
    t.same(throughRedis, [], 'the command, its result and telemetry stayed on B: each device\'s traffic is local (broker/redis-stores.ts)')
  })

  t.test('a takeover of a client id on B closes its connection on A; the device stays online', async (t) => {
    const { device, credentials } = await create()
    const sseA = await SseClient.open(`${a.httpUrl}/api/events?ticket=${(await a.api(tokenA, 'POST', '/api/events/ticket')).body.ticket as string}`)
    t.teardown(() => sseA.close())
    const first = await connectDevice(t, a.mqttUrl, credentials)
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    await sseA.next((e) => e.event === 'device.online' && e.data.deviceId === device.id)
    const second = await connectDevice(t, b.mqttUrl, credentials)
    await firstClosed
    t.ok(second.connected, 'the new session is the one left')
    // The old session's close on A does not take the device offline: B holds it.
    await sseA.next((e) => e.event === 'device.online' && e.data.deviceId === device.id && sseA.events.filter((x) => x.event === 'device.online' && x.data.deviceId === device.id).length >= 2)
    for (const [hub, token] of [[a, tokenA], [b, tokenB]] as const) {
      const seen = await hub.api(token, 'GET', `/api/devices/${device.id}`)
      t.equal(seen.body.status, 'online')
    }
    // Telemetry from B reaches A's stream after A's close of the old session has been handled.
    await second.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -70 }), { qos: 1 })
    await sseA.next((e) => e.event === 'telemetry' && e.data.deviceId === device.id)
    t.notOk(sseA.events.some((e) => e.event === 'device.offline' && e.data.deviceId === device.id), 'no offline event for the move')
  })
})
