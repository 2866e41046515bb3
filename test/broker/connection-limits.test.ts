import { connect as tcpConnect, type Socket } from 'node:net'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { connectPacket, RawMqtt } from '../helpers/raw-mqtt.ts'
import { startTestHub, throwawayDatabase, type TestHub } from '../helpers/test-hub.ts'

// Limits as environment variables (HUB_CONNECT_RATE_PER_IP, HUB_DEVICE_PUBLISH_RATE/_BURST), the
// connection gauge (RELIABILITY 62), device lifecycle (55), keepalive 0 and MQTT 3.1.

async function openFrom (port: number, localAddress: string): Promise<Socket> {
  const socket = tcpConnect({ host: '127.0.0.1', port, localAddress })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return socket
}

async function gauge (hub: TestHub): Promise<number> {
  const text = await (await fetch(hub.httpUrl + '/metrics')).text()
  const line = text.split('\n').find((l) => l.startsWith('hub_mqtt_connections '))
  return Number(line?.split(' ')[1])
}

t.test('HUB_CONNECT_RATE_PER_IP limits new connections per source address, and 0 turns it off', async (t) => {
  const hub = await startTestHub(t, { env: { HUB_CONNECT_RATE_PER_IP: '1' } })
  // 20 connections at once from one address with a budget of 1/s: the first is served, the others are
  // closed before MQTT, unless the machine needed whole seconds to open them (each second refills one).
  const started = Date.now()
  const sockets = await Promise.all(Array.from({ length: 20 }, async () => await openFrom(hub.mqttPort, '127.0.0.3')))
  const closedAtOnce = await Promise.all(sockets.map(async (s) => await new Promise<boolean>((resolve) => {
    if (s.destroyed) { resolve(true); return }
    s.once('close', () => resolve(true))
    s.write(Buffer.from(mqttConnectFor('probe')))
    s.once('data', () => resolve(false))
  })))
  const seconds = Math.ceil((Date.now() - started) / 1000)
  const kept = closedAtOnce.filter((c) => !c).length
  t.ok(kept >= 1 && kept <= 1 + seconds, `${kept} of 20 served in ${seconds} s`)
  const metrics = await (await fetch(hub.httpUrl + '/metrics')).text()
  t.match(metrics, new RegExp(`hub_mqtt_stream_rejections_total\\{reason="connect-rate"\\} ${20 - kept}\\b`), 'the refused ones are counted')
  for (const s of sockets) s.destroy()
  // Another address has its own budget.
  const other = await openFrom(hub.mqttPort, '127.0.0.4')
  other.write(Buffer.from(mqttConnectFor('probe')))
  await new Promise<void>((resolve) => other.once('data', () => resolve()))
  t.pass('a device from another address is served')
  other.destroy()

  const open = await startTestHub(t, { env: { HUB_CONNECT_RATE_PER_IP: '0' } })
  const many = await Promise.all(Array.from({ length: 60 }, async () => await openFrom(open.mqttPort, '127.0.0.5')))
  const answered = await Promise.all(many.map(async (s) => await new Promise<boolean>((resolve) => {
    s.once('close', () => resolve(false))
    s.write(Buffer.from(mqttConnectFor('probe')))
    s.once('data', () => resolve(true))
  })))
  t.equal(answered.filter(Boolean).length, 60, 'with 0 every connection is served')
  for (const s of many) s.destroy()
})

/** A CONNECT with wrong credentials: the hub answers CONNACK 4, which proves the socket was served. */
function mqttConnectFor (id: string): Buffer {
  return mqttPacket.generate(connectPacket({ clientId: id, username: id, password: Buffer.from('wrong') }) as unknown as mqttPacket.Packet)
}

t.test('HUB_DEVICE_PUBLISH_RATE and _BURST set the per-device bucket', async (t) => {
  const hub = await startTestHub(t, { env: { HUB_DEVICE_PUBLISH_RATE: '1', HUB_DEVICE_PUBLISH_BURST: '2' } })
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const raw = await RawMqtt.open(hub.mqttPort)
  raw.send(connectPacket({ clientId: device.id, username: device.id, password: Buffer.from(credentials.password) }))
  await raw.next('connack')
  const now = Date.now()
  // Twelve publishes at once against a burst of 2 and 1/s: they would wait over 5 s, so the device is
  // disconnected as a flood (docs/broker.md "Rates").
  for (let i = 1; i <= 12; i++) raw.send({ cmd: 'publish', topic: `devices/${device.id}/telemetry`, qos: 1, messageId: i, payload: JSON.stringify({ ts: now, seq: i }) })
  await raw.closed
  const acked = raw.packets.filter((p) => p.cmd === 'puback').length
  t.ok(acked < 12, `the device was cut off by its publish rate (${acked} acknowledged)`)
})

t.test('hub_mqtt_connections equals the open sockets through takeovers, refusals and flaps', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const devices = await Promise.all(Array.from({ length: 5 }, async () => await hub.createDevice(token)))
  const open: RawMqtt[] = []
  const connectAs = async (d: typeof devices[number], password = d.credentials.password): Promise<RawMqtt> => {
    const raw = await RawMqtt.open(hub.mqttPort)
    raw.send(connectPacket({ clientId: d.device.id, username: d.device.id, password: Buffer.from(password) }))
    await Promise.race([raw.next('connack'), raw.closed])
    return raw
  }
  for (const d of devices.slice(0, 4)) open.push(await connectAs(d))
  await eventually('4 connections', async () => await gauge(hub) === 4)
  // Takeovers: the same device connects again, ten times; the previous socket is closed each time.
  for (let i = 0; i < 10; i++) {
    const next = await connectAs(devices[0])
    await open[0].closed
    open[0] = next
  }
  // Refusals: wrong secrets, closed by the hub.
  for (let i = 0; i < 10; i++) {
    const bad = await connectAs(devices[1], 'wrong')
    t.equal((bad.packets[0] as mqttPacket.IConnackPacket | undefined)?.returnCode, 4)
    bad.close()
    await bad.closed
  }
  // Flaps: connect and drop at once.
  for (let i = 0; i < 10; i++) {
    const flap = await connectAs(devices[4])
    flap.close()
    await flap.closed
  }
  const expected = open.filter((r) => !r.socket.destroyed).length
  t.equal(expected, 4, 'the refused CONNECTs with its id left the online device connected')
  await eventually(`the gauge at ${expected}`, async () => await gauge(hub) === expected)
  t.equal(await gauge(hub), expected, `the gauge equals the ${expected} open sockets`)
  for (const r of open) r.close()
  await eventually('the gauge at 0', async () => await gauge(hub) === 0)
  t.pass('and 0 once all are closed')
})

t.test('deleting, disabling or rotating the secret of a connected device ends its session', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const cases: Array<[string, (id: string) => Promise<void>]> = [
    ['deleted', async (id) => { t.equal((await hub.api(token, 'DELETE', `/api/devices/${id}`)).status, 204) }],
    ['disabled', async (id) => { t.equal((await hub.api(token, 'PATCH', `/api/devices/${id}`, { disabled: true })).status, 200) }],
    ['secret rotated', async (id) => { t.equal((await hub.api(token, 'POST', `/api/devices/${id}/credentials/rotate`)).status, 200) }]
  ]
  for (const [what, act] of cases) {
    const { device, credentials } = await hub.createDevice(token)
    const client = await mqtt.connectAsync(hub.mqttUrl, { clientId: device.id, username: device.id, password: credentials.password, reconnectPeriod: 0 })
    await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1 }), { qos: 1 })
    const closed = new Promise<void>((resolve) => client.stream.once('close', () => resolve()))
    await act(device.id)
    await closed
    t.pass(`${what}: the session ended`)
    const again = await mqtt.connectAsync(hub.mqttUrl, { clientId: device.id, username: device.id, password: credentials.password, reconnectPeriod: 0 }).then(() => 'connected', (err: Error) => err.message)
    t.match(again, /Bad username or password|Not authorized/, `${what}: the old credentials are refused`)
  }
  const rotated = await hub.createDevice(token)
  const fresh = (await hub.api(token, 'POST', `/api/devices/${rotated.device.id}/credentials/rotate`)).body
  t.not(fresh.password, rotated.credentials.password, 'rotation shows a new secret')
  const client = await mqtt.connectAsync(hub.mqttUrl, { clientId: rotated.device.id, username: fresh.username, password: fresh.password, reconnectPeriod: 0 })
  t.ok(client.connected, 'the new secret works')
  await client.endAsync()
  t.equal((await hub.api(token, 'GET', '/api/fleet/summary')).body.online, 0, 'no device that was ended counts as online')
})

t.test('keepalive 0 and MQTT 3.1 (MQIsdp) are accepted', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const raw = await RawMqtt.open(hub.mqttPort)
  raw.send(connectPacket({ clientId: device.id, username: device.id, password: Buffer.from(credentials.password), keepalive: 0 }))
  t.equal((await raw.next('connack') as mqttPacket.IConnackPacket).returnCode, 0, 'keepalive 0 is accepted (the hub applies its 1200 s ceiling)')
  raw.close()
  await raw.closed

  const old = await mqtt.connectAsync(hub.mqttUrl, { protocolId: 'MQIsdp', protocolVersion: 3, clientId: device.id, username: device.id, password: credentials.password, reconnectPeriod: 0 })
  await old.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 7, rsrp: -100 }), { qos: 1 })
  const stored = (await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry`)).body.items
  t.equal(stored[0]?.seq, 7, 'an MQTT 3.1 modem is served like a 3.1.1 one')
  await old.endAsync()
})

t.test('a flood of refused CONNECTs is audited as a digest, not a row each', async (t) => {
  const hub = await startTestHub(t, { env: { HUB_CONNECT_RATE_PER_IP: '0' }, denialDigestMs: 1000 })
  const token = await hub.login()
  const { device } = await hub.createDevice(token)
  const attempts = 200
  const floodStarted = Date.now()
  await Promise.all(Array.from({ length: attempts }, async () => {
    const raw = await RawMqtt.open(hub.mqttPort)
    raw.send(connectPacket({ clientId: device.id, username: device.id, password: Buffer.from('wrong') }))
    await raw.closed
  }))
  // The digest's contract, whatever the machine's speed: per kind of denial and window (1 s here), the
  // first row at once and one summary at the window's end.
  const windows = Math.ceil((Date.now() - floodStarted) / 1000) + 1
  // Every refusal is accounted for: a row written at once stands for one, a summary for `repeated`.
  const accounted = (rows: any[]): number => rows.reduce((n, r) => n + (r.detail?.repeated ?? 1), 0)
  const rows = await eventually('every refusal in the audit log', async () => {
    const page = (await hub.api(token, 'GET', '/api/audit?limit=100')).body.items.filter((r: any) => r.action === 'mqtt.connect')
    return accounted(page) === attempts ? page : undefined
  }, 30_000)
  t.ok(rows.length <= Math.min(2 * windows, attempts - 1), `${attempts} refusals in ${rows.length} rows (${windows} windows)`)
  const summary = rows.find((r: any) => r.detail?.repeated !== undefined)
  t.equal(summary?.detail.reason, 'bad-credentials', 'the summary names the reason')
  t.ok(summary?.detail.samples.length <= 10, 'with a bounded number of samples')
})

// Two hubs in this process on one database and one Redis, as two hub processes would be: only the bus
// (Redis pub/sub) tells the other one.
t.test('a device deleted or disabled through one hub loses its session on another', { skip: process.env.REDIS_URL === undefined || process.env.DATABASE_URL === undefined ? 'needs DATABASE_URL and REDIS_URL' : false }, async (t) => {
  const shared = await throwawayDatabase(t)
  const a = await startTestHub(t, { env: { DATABASE_URL: shared } })
  const b = await startTestHub(t, { env: { DATABASE_URL: shared } })
  const token = await a.login()
  for (const [what, act] of [
    ['disabled', async (id: string) => await a.api(token, 'PATCH', `/api/devices/${id}`, { disabled: true })],
    ['deleted', async (id: string) => await a.api(token, 'DELETE', `/api/devices/${id}`)]
  ] as const) {
    const { device, credentials } = await a.createDevice(token)
    const client = await mqtt.connectAsync(b.mqttUrl, { clientId: device.id, username: device.id, password: credentials.password, reconnectPeriod: 0 })
    const closed = new Promise<void>((resolve) => client.stream.once('close', () => resolve()))
    await act(device.id)
    await closed
    t.pass(`${what} on hub A: the session on hub B ended`)
  }
})
