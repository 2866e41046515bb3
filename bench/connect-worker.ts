import { connect as tcpConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { BenchDevice } from './bench-hub.ts'

/** A connection load generator in a child process of its own (so its sockets count against its own file
 * limit, and its memory is not the hub's). Each device opens a TCP connection from one of `addresses`
 * (in turn), sends a real CONNECT (client id = user name = device id, password = its secret), and on
 * CONNACK 0 publishes one QoS 1 telemetry sample; the connection is then held until the parent says
 * `release`. While held, `publish` makes every held device publish QoS 1 telemetry at a fixed rate for a
 * while (the devices' publishes evenly staggered), and answers how many were sent and acknowledged. At most `concurrency` connections are being set up at once. Bare sockets and mqtt-packet
 * instead of MQTT.js, so that thousands of clients fit in one process and leave the CPU to the hub. */
export interface ConnectSpec {
  host: string
  port: number
  devices: BenchDevice[]
  /** Connected, acknowledged and closed again before the measurement, so that one-time costs (compiled
   * code, caches such as mqtt-packet's 65,536 message-id buffers, query plans) are in the baseline. */
  warmup: BenchDevice[]
  addresses: string[]
  concurrency: number
  keepaliveSeconds: number
  timeoutMs: number
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'warmed', connected: number }
  | { type: 'holding', connected: number, failed: number, errors: Record<string, number>, firstAt: number, lastConnackAt: number, lastPubackAt: number }
  | { type: 'released', dropped: number }
  /** `acked` counts every PUBACK of the phase (up to `drainMs` after it), `ackedInWindow` those that
   * came within the `durationMs` the devices were publishing. */
  | { type: 'published', devices: number, sent: number, acked: number, ackedInWindow: number, windowMs: number }

/** `publish`: every held device publishes one QoS 1 sample each `intervalMs`, for `durationMs`; then
 * up to `drainMs` more for the outstanding acknowledgements. */
export interface PublishPhase { type: 'publish', intervalMs: number, durationMs: number, drainMs: number }

type ParentMessage = { type: 'spec', spec: ConnectSpec } | { type: 'warmup' } | { type: 'go' } | PublishPhase | { type: 'release' }

interface Held { socket: Socket, device: BenchDevice, nextId: number, seq: number }

const held: Held[] = []
let dropped = 0
let releasing = false
/** The counts of the running publish phase (null outside one). */
let phase: { sent: number, acked: number, ackedInWindow: number, end: number } | null = null

function send (message: WorkerMessage): void {
  process.send?.(message)
}

/** One device: resolves with its CONNACK time once its publish is acknowledged, rejects with a reason. */
function connectOne (spec: ConnectSpec, device: BenchDevice, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: spec.host, port: spec.port, localAddress, noDelay: true })
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    let connackAt = 0
    let done = false
    const fail = (reason: string): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      reject(new Error(reason))
    }
    const timer = setTimeout(() => fail('timeout'), spec.timeoutMs)
    socket.on('connect', () => {
      socket.write(mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: device.clientId,
        username: device.username,
        password: Buffer.from(device.password),
        clean: true,
        keepalive: spec.keepaliveSeconds
      }))
    })
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') {
        if (packet.returnCode !== 0) { fail(`connack-${String(packet.returnCode)}`); return }
        connackAt = Date.now()
        socket.write(mqttPacket.generate({
          cmd: 'publish',
          topic: `devices/${device.clientId}/telemetry`,
          payload: JSON.stringify({ ts: Date.now(), seq: 0, rsrp: -95, rsrq: -10, sinr: 12, rat: 'LTE', battery: 80 }),
          qos: 1,
          messageId: 1,
          retain: false,
          dup: false
        }))
      } else if (packet.cmd === 'puback' && !done) {
        done = true
        clearTimeout(timer)
        held.push({ socket, device, nextId: 2, seq: 1 })
        resolve(connackAt)
      } else if (packet.cmd === 'puback' && phase !== null) {
        phase.acked++
        if (Date.now() <= phase.end) phase.ackedInWindow++
      }
    })
    parser.on('error', (err) => fail('parse: ' + err.message))
    socket.on('data', (chunk) => parser.parse(chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
    socket.on('close', () => {
      if (!done) fail('closed')
      else if (!releasing) dropped++
    })
  })
}

async function warmup (spec: ConnectSpec): Promise<void> {
  const results = await Promise.allSettled(spec.warmup.map((device, i) => connectOne(spec, device, spec.addresses[i % spec.addresses.length])))
  releasing = true
  const sockets = held.splice(0).map((h) => h.socket)
  await Promise.all(sockets.map((socket) => new Promise((resolve) => { socket.once('close', resolve); socket.destroy() })))
  releasing = false
  send({ type: 'warmed', connected: results.filter((r) => r.status === 'fulfilled').length })
}

async function run (spec: ConnectSpec): Promise<void> {
  const errors: Record<string, number> = {}
  let connected = 0
  let failed = 0
  let lastConnackAt = 0
  let lastPubackAt = 0
  let next = 0
  const firstAt = Date.now()
  const lane = async (): Promise<void> => {
    while (next < spec.devices.length) {
      const i = next++
      try {
        const connackAt = await connectOne(spec, spec.devices[i], spec.addresses[i % spec.addresses.length])
        connected++
        lastConnackAt = Math.max(lastConnackAt, connackAt)
        lastPubackAt = Date.now()
      } catch (err) {
        failed++
        const reason = (err as Error).message
        errors[reason] = (errors[reason] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.devices.length) }, lane))
  send({ type: 'holding', connected, failed, errors, firstAt, lastConnackAt, lastPubackAt })
}

function publishOne (h: Held): void {
  const messageId = h.nextId
  h.nextId = h.nextId === 65535 ? 1 : h.nextId + 1
  h.socket.write(mqttPacket.generate({
    cmd: 'publish',
    topic: `devices/${h.device.clientId}/telemetry`,
    payload: JSON.stringify({ ts: Date.now(), seq: h.seq++, rsrp: -95, rsrq: -10, sinr: 12, rat: 'LTE', battery: 80 }),
    qos: 1,
    messageId,
    retain: false,
    dup: false
  }))
}

/** Device i's k-th sample goes out at (k + i / n) × interval from the start, so the n devices' publishes
 * are spread evenly over each interval. */
async function publish (message: PublishPhase): Promise<void> {
  const devices = held.filter((h) => !h.socket.destroyed)
  const n = devices.length
  const start = Date.now()
  const counts = { sent: 0, acked: 0, ackedInWindow: 0, end: start + message.durationMs }
  phase = counts
  let issued = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now()
      const due = n === 0 ? 0 : Math.floor((Math.min(now, counts.end) - start) / message.intervalMs * n)
      for (; issued < due; issued++) {
        const h = devices[issued % n]
        if (h.socket.destroyed) continue
        publishOne(h)
        counts.sent++
      }
      if (now >= counts.end) { clearInterval(timer); resolve() }
    }, 20)
  })
  const drainUntil = Date.now() + message.drainMs
  while (counts.acked < counts.sent && Date.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 50))
  phase = null
  send({ type: 'published', devices: n, sent: counts.sent, acked: counts.acked, ackedInWindow: counts.ackedInWindow, windowMs: message.durationMs })
}

let spec: ConnectSpec | undefined
process.on('message', (message: ParentMessage) => {
  if (message.type === 'spec') {
    spec = message.spec
    send({ type: 'ready' })
  } else if (message.type === 'warmup') {
    warmup(spec as ConnectSpec).catch((err: Error) => { console.error(err); process.exit(1) })
  } else if (message.type === 'go') {
    run(spec as ConnectSpec).catch((err: Error) => { console.error(err); process.exit(1) })
  } else if (message.type === 'publish') {
    publish(message).catch((err: Error) => { console.error(err); process.exit(1) })
  } else if (message.type === 'release') {
    releasing = true
    process.send?.({ type: 'released', dropped } satisfies WorkerMessage, () => {
      for (const h of held) h.socket.destroy()
      process.disconnect?.()
    })
  }
})
