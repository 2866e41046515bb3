import t from 'tap'
import { connect as tcpConnect, type Socket } from 'node:net'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { startTestHub } from '../helpers/test-hub.ts'

const FLOODERS = 20
/** Only a hub that never cuts a flooder off floods this long (the test then fails). */
const FLOOD_LIMIT_MS = 60_000

/** Writes QoS 0 publishes as fast as the socket takes them, until the hub closes the connection. */
function flood (socket: Socket, topic: string, until: number): Promise<number> {
  const packet = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -99 })), qos: 0, dup: false, retain: false } as mqttPacket.IPublishPacket)
  const chunk = Buffer.concat(Array.from({ length: 200 }, () => packet))
  let sent = 0
  return new Promise((resolve) => {
    const pump = (): void => {
      while (Date.now() < until && !socket.destroyed) {
        sent += 200
        if (!socket.write(chunk)) { socket.once('drain', pump); return }
      }
      resolve(sent)
    }
    socket.on('close', () => resolve(sent))
    pump()
  })
}

t.test('a QoS 0 flood from many devices: the hub survives and keeps serving a well-behaved device', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const devices = await Promise.all(Array.from({ length: FLOODERS + 1 }, () => hub.createDevice(token)))
  const good = devices.pop() as (typeof devices)[number]

  const sockets = await Promise.all(devices.map(async ({ device, credentials }) => {
    const socket = tcpConnect({ host: '127.0.0.1', port: hub.mqttPort })
    socket.on('error', () => {})
    t.teardown(() => socket.destroy())
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: credentials.clientId, username: credentials.username, password: Buffer.from(credentials.password) }))
    await new Promise((resolve) => socket.once('data', resolve)) // CONNACK
    return { socket, topic: `devices/${device.id}/telemetry` }
  }))

  const client = await mqtt.connectAsync(hub.mqttUrl, { ...good.credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  const until = Date.now() + FLOOD_LIMIT_MS
  const flooding = Promise.all(sockets.map(({ socket, topic }) => flood(socket, topic, until)))
  // The well-behaved device keeps publishing through the flood: every publish is acknowledged, however
  // long the machine takes (no speed is asserted here; `npm run bench` measures speed).
  const GOOD = 10
  let acked = 0
  for (let seq = 1; seq <= GOOD; seq++) {
    await client.publishAsync(`devices/${good.device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq }), { qos: 1 })
    acked++
  }
  const sentBy = await flooding
  t.ok(sentBy.every((n) => n > 200), `every flooder wrote more than its burst of 200 (${sentBy.reduce((a, b) => a + b, 0)} publishes in all)`)
  t.equal(acked, GOOD, 'every publish of the well-behaved device was acknowledged during the flood')
  t.ok(client.connected, 'and it stays connected')
  const closed = sockets.filter(({ socket }) => socket.destroyed || socket.readableEnded).length
  t.equal(closed, FLOODERS, 'every flooder was cut off by its publish rate')
  const health = await fetch(hub.httpUrl + '/healthz')
  t.equal(health.status, 200, 'the process is alive and serving HTTP')
})
