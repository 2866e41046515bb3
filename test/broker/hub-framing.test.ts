import t from 'tap'
import { connect as tcpConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { limitDefaults } from '../../server/config.ts'
import { startTestHub } from '../helpers/test-hub.ts'

function open (port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => resolve(socket))
    socket.on('error', () => {})
    socket.once('error', reject)
  })
}

/** Resolves when the hub closes the socket; `pump` keeps writing until then. */
function closedWhile (socket: Socket, pump: () => void): Promise<number> {
  let written = 0
  return new Promise((resolve) => {
    socket.once('close', () => resolve(written))
    const write = (): void => {
      while (!socket.destroyed) {
        const chunk = Buffer.alloc(16 * 1024, 0x41)
        written += chunk.length
        if (!socket.write(chunk)) { socket.once('drain', write); return }
        if (written > 64 * 1024 * 1024) return
      }
    }
    pump()
    write()
  })
}

t.test('the hub closes oversized and pre-CONNECT garbage without buffering it', async (t) => {
  const hub = await startTestHub(t, { brokerLimits: { connectDeadlineMs: 500 } })
  global.gc?.()
  const before = process.memoryUsage()

  await t.test('a fixed header claiming 256 MB, then streamed bytes', async (t) => {
    const socket = await open(hub.mqttPort)
    // CONNECT claiming a remaining length of 268,435,455 bytes (the largest varint).
    const written = await closedWhile(socket, () => socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])))
    t.ok(written < 32 * 1024 * 1024, `closed after ${written} streamed bytes, long before 256 MB`)
  })

  await t.test('garbage before CONNECT', async (t) => {
    const socket = await open(hub.mqttPort)
    const written = await closedWhile(socket, () => socket.write(Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x62, 0x63])))
    t.ok(written < 32 * 1024 * 1024, 'a PUBLISH before CONNECT closes the connection')
  })

  await t.test('silence: closed at the CONNECT deadline', async (t) => {
    const socket = await open(hub.mqttPort)
    const started = Date.now()
    await new Promise((resolve) => socket.once('close', resolve))
    t.ok(Date.now() - started < 5000, 'closed by the deadline, not by a keepalive')
  })

  await t.test('an MQTT 5 CONNECT is refused with return code 1', async (t) => {
    const socket = await open(hub.mqttPort)
    const reply = new Promise<Buffer>((resolve) => socket.once('data', resolve))
    // CONNECT, protocol name MQTT, level 5, clean start, keepalive 30, no properties, client id "x".
    socket.write(Buffer.from([0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x1e, 0x00, 0x00, 0x01, 0x78]))
    t.same([...await reply], [0x20, 0x02, 0x00, 0x01])
  })

  await t.test('a device PUBLISH one byte over the frame cap (HUB_MQTT_MAX_FRAME_BYTES, 1 MB)', async (t) => {
    const cap = limitDefaults.mqttMaxFrameBytes
    t.equal(cap, 1024 * 1024)
    const { credentials } = await hub.createDevice(await hub.login())
    const socket = await open(hub.mqttPort)
    const connack = new Promise<Buffer>((resolve) => socket.once('data', resolve))
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: credentials.clientId, username: credentials.username, password: Buffer.from(credentials.password) }))
    t.same([...await connack], [0x20, 0x02, 0x00, 0x00], 'in session')
    // QoS 0 PUBLISH whose whole packet is cap + 1 bytes: 1 type byte, a 3-byte remaining length
    const remaining = cap + 1 - 4
    const header = Buffer.from([0x30, (remaining & 0x7f) | 0x80, ((remaining >> 7) & 0x7f) | 0x80, remaining >> 14])
    const name = Buffer.from(`devices/${credentials.clientId}/telemetry`)
    const topic = Buffer.concat([Buffer.from([0, name.length]), name])
    const written = await closedWhile(socket, () => socket.write(Buffer.concat([header, topic])))
    t.ok(written < 32 * 1024 * 1024, `closed after ${written} streamed bytes`)
    // Closed for its size, not for the garbage after it: the 256 MB header above and this one
    const metrics = await (await fetch(hub.httpUrl + '/metrics')).text()
    t.match(metrics, /hub_mqtt_stream_rejections_total\{reason="packet-too-large"\} 2/, 'refused as packet-too-large')
  })

  global.gc?.()
  const after = process.memoryUsage()
  const grown = (after.heapUsed + after.arrayBuffers) - (before.heapUsed + before.arrayBuffers)
  t.ok(grown < 32 * 1024 * 1024, `heap and buffers grew by ${Math.round(grown / 1024)} KB, not by the claimed sizes`)
  const rejections = await (await fetch(hub.httpUrl + '/metrics')).text()
  t.match(rejections, /hub_mqtt_stream_rejections_total\{reason="packet-too-large"\} 2/)
})
