import t from 'tap'
import mqtt from 'mqtt'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

t.test('a device created through the API publishes QoS 1 telemetry: PUBACK, stored row, SSE events', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token, { name: 'pump 7', tags: ['site-a'] })
  t.equal(credentials.clientId, device.id)
  t.equal(device.status, 'offline')

  const ticket = (await hub.api(token, 'POST', '/api/events/ticket')).body.ticket
  const sse = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)

  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync())
  const online = await sse.next((e) => e.event === 'device.online' && e.data.deviceId === device.id)
  t.ok(online.id, 'events carry an id')

  const ts = Date.now()
  const pubacks: number[] = []
  client.on('packetreceive', (packet) => { if (packet.cmd === 'puback') pubacks.push(packet.messageId as number) })
  const sent = await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts, seq: 1, rsrp: -97.5, rat: 'LTE', mcc: '414', mnc: '01', battery: 88 }), { qos: 1 })
  t.same(pubacks, [sent?.messageId], 'the PUBACK arrives')

  // The PUBACK came after the commit: the row is readable now, without waiting.
  const stored = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry`)
  t.equal(stored.status, 200)
  t.same(stored.body.items, [{ ts: new Date(ts).toISOString(), seq: 1, rsrp: -97.5, rat: 'LTE', mcc: '414', mnc: '01', battery: 88 }])

  const event = await sse.next((e) => e.event === 'telemetry' && e.data.deviceId === device.id)
  t.equal(event.data.rsrp, -97.5)
  t.equal(event.data.seq, 1)

  const listed = await hub.api(token, 'GET', '/api/devices?status=online')
  t.same(listed.body.items.map((d: { id: string }) => d.id), [device.id])
  t.equal(listed.body.items[0].latestTelemetry.rsrp, -97.5)
  t.ok(Date.parse(listed.body.items[0].lastSeenAt) >= ts - 1000, 'last seen is current before the periodic flush writes it')
  const summary = await hub.api(token, 'GET', '/api/fleet/summary')
  t.same(summary.body, { total: 1, online: 1, offline: 0 })

  await client.endAsync()
  await sse.next((e) => e.event === 'device.offline' && e.data.deviceId === device.id)
  const offline = await hub.api(token, 'GET', `/api/devices/${device.id}`)
  t.equal(offline.body.status, 'offline')
})

t.test('an array of samples and a resend are stored once each', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync())
  const base = Date.now() - 60_000
  const samples = [0, 1, 2].map((i) => ({ ts: base + i * 1000, seq: 10 + i, sinr: 5 + i }))
  await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify(samples), { qos: 1 })
  await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify(samples[1]), { qos: 1, dup: true })
  const stored = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?from=${base}&limit=2`)
  t.same(stored.body.items.map((i: { seq: number }) => i.seq), [10, 11])
  t.ok(stored.body.nextCursor)
  const rest = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?from=${base}&cursor=${stored.body.nextCursor}`)
  t.same(rest.body.items.map((i: { seq: number }) => i.seq), [12])
  t.equal(rest.body.nextCursor, null)
  const buckets = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?from=${base - 60_000}&bucket=1h`)
  t.equal(buckets.status, 200)
  t.equal(buckets.body.items.reduce((n: number, b: { count: number }) => n + b.count, 0), 3)
  t.equal(buckets.body.items.at(-1).sinrMax, 7)
})
