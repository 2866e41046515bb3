// Replays Eclipse Mosquitto's broker test vectors (../shared/testdata/mqtt-conformance, see its README)
// against a real hub over TCP (RELIABILITY.md "Replays and fuzzing", G.54). Wherever Mosquitto's suite
// expects the broker to disconnect, the hub must disconnect too; and no vector may leave the hub unable to
// answer. How each kind of vector is replayed is in docs/broker.md, "Mosquitto's broker vectors".
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { connect as tcpConnect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import mqttPacket from 'mqtt-packet'
import { startTestHub } from '../helpers/test-hub.ts'

const dir = fileURLToPath(new URL('../../../shared/testdata/mqtt-conformance/', import.meta.url))

/** Parallel connections, one device each (a device id is a client id: two at once would take over) */
const WORKERS = 16
/** Longest wait for any answer (CONNACK, PINGRESP or close); above the hub's CONNECT deadline below */
const ANSWER_BOUND_MS = 8_000
const CONNECT_DEADLINE_MS = 3_000

interface Step { type: 'send' | 'recv' | 'publish', payload: string }
interface Vector {
  id: string
  ver: number
  connect: boolean
  expectDisconnect: boolean
  msgs: Step[]
}

/** How a vector is replayed (docs/broker.md) */
type Kind =
  | 'session' // MQTT 3.1.1/3.1: an authenticated CONNECT of a real device first, then the vector
  | 'first-packet' // "connect": false: the vector's bytes are the first on the connection (CONNECT tests)
  | 'mqtt5' // MQTT 5: the hub speaks 3.1.1 and 3.1 only, and refuses the CONNECT with return code 1
  | 'third-party-publish' // needs a message published by another client to topic "p": see kindOf

type Outcome =
  | 'disconnected' // the hub closed the connection
  | 'open' // after the vector, two PINGREQs in turn got their PINGRESP: the connection is still served
  | 'silent' // neither an answer nor a close within ANSWER_BOUND_MS
  | 'not-in-session' // the authenticated CONNECT before the vector was not accepted (a broken replay)

interface Result { vector: Vector, kind: Kind, outcome: Outcome }

function loadVectors (): Vector[] {
  const vectors: Vector[] = []
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const groups = JSON.parse(readFileSync(dir + file, 'utf8')) as Array<{ group: string, disable?: boolean, tests: Array<Record<string, unknown>> }>
    for (const group of groups) {
      if (group.disable === true) continue
      for (const test of group.tests) {
        // The defaults of Mosquitto's runner (test/broker/msg_sequence_test.py): MQTT 3.1.1, a CONNECT
        // first, and a disconnect expected
        vectors.push({
          id: `${group.group.replace(/\s+/g, ' ')} / ${String(test.name).trim()}`,
          ver: typeof test.ver === 'number' ? test.ver : 4,
          connect: test.connect !== false,
          expectDisconnect: test.expect_disconnect !== false,
          msgs: test.msgs as Step[]
        })
      }
    }
  }
  return vectors
}

function kindOf (v: Vector): Kind {
  if (v.ver === 5) return 'mqtt5'
  // Mosquitto's runner has a helper client publish to "p", which the vector subscribed to. On the hub
  // neither can happen: a device may subscribe only to its own commands and publish only on its own
  // topics, and the hub never delivers QoS 2. The flow these vectors then check cannot arise.
  if (v.msgs.some((m) => m.type === 'publish')) return 'third-party-publish'
  return v.connect ? 'session' : 'first-packet'
}

const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex')

const CONNACK = 2
const PINGRESP = 13
const PINGREQ_BYTES = Buffer.from([0xc0, 0x00])

/** One TCP connection to the hub; splits what the hub sends into packets (type and body) */
class Connection {
  closed = false
  readonly packets: Array<{ type: number, body: Buffer }> = []
  private pending = Buffer.alloc(0)
  private wake: (() => void) | undefined

  private constructor (private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => { this.pending = Buffer.concat([this.pending, chunk]); this.split(); this.wake?.() })
    socket.on('error', () => {}) // a write racing the hub's close: the close is what we look at
    socket.on('close', () => { this.closed = true; this.wake?.() })
  }

  static async open (port: number): Promise<Connection> {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    return new Connection(socket)
  }

  send (data: Buffer): void {
    if (!this.closed) this.socket.write(data)
  }

  count (type: number): number {
    return this.packets.filter((p) => p.type === type).length
  }

  /** Resolves when `done()` holds ('ok'), the hub closed the connection, or nothing happened in time */
  async until (done: () => boolean): Promise<'ok' | 'closed' | 'silent'> {
    const timer = setTimeout(() => this.wake?.(), ANSWER_BOUND_MS)
    const started = Date.now()
    try {
      for (;;) {
        if (done()) return 'ok'
        if (this.closed) return 'closed'
        if (Date.now() - started >= ANSWER_BOUND_MS) return 'silent'
        await new Promise<void>((resolve) => { this.wake = resolve })
      }
    } finally {
      clearTimeout(timer)
      this.wake = undefined
    }
  }

  /** PINGREQ, then its PINGRESP: proves everything sent before was read and the connection is served */
  async ping (): Promise<'ok' | 'closed' | 'silent'> {
    const before = this.count(PINGRESP)
    this.send(PINGREQ_BYTES)
    return await this.until(() => this.count(PINGRESP) > before)
  }

  async destroy (): Promise<void> {
    if (this.closed) return
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()))
    this.socket.destroy()
    await closed
  }

  private split (): void {
    for (;;) {
      let length = 0
      let at = 1
      for (let shift = 0; ; shift += 7, at++) {
        if (at >= this.pending.length) return
        length += (this.pending[at] & 0x7f) << shift
        if ((this.pending[at] & 0x80) === 0) break
      }
      const end = at + 1 + length
      if (end > this.pending.length) return
      this.packets.push({ type: this.pending[0] >> 4, body: this.pending.subarray(at + 1, end) })
      this.pending = this.pending.subarray(end)
    }
  }
}

interface Credentials { clientId: string, username: string, password: string }

/** The CONNECT Mosquitto's runner sends first (clean session, keepalive 60), with a device's credentials */
function sessionConnect (ver: number, c: Credentials): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: ver === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: ver as 3 | 4 | 5,
    clientId: c.clientId,
    username: c.username,
    password: Buffer.from(c.password),
    clean: true,
    keepalive: 60
  })
}

async function replay (port: number, v: Vector, kind: Kind, credentials: Credentials): Promise<Outcome> {
  const conn = await Connection.open(port)
  try {
    if (v.connect) {
      conn.send(sessionConnect(v.ver, credentials))
      const answered = await conn.until(() => conn.count(CONNACK) > 0)
      if (answered === 'silent') return 'silent'
      const connack = conn.packets.find((p) => p.type === CONNACK)
      // MQTT 5: refused with return code 1 and closed (checked by the caller); 3.1.1/3.1: must be in session
      if (kind !== 'mqtt5' && (connack === undefined || connack.body[1] !== 0)) return 'not-in-session'
    }
    for (const step of v.msgs) {
      if (conn.closed) break
      if (step.type === 'send') {
        conn.send(bytes(step.payload))
      } else if (step.type === 'recv') {
        // The hub's answers differ from Mosquitto's where its ACL does (SUBACK 0x80 for "p", no PUBLISH
        // from a helper), so the content is not compared: a recv is a point where everything sent before
        // must have been handled before the vector goes on
        if (await conn.ping() === 'silent') return 'silent'
      }
      // 'publish' (a helper client's message to "p") cannot happen on the hub: see kindOf
    }
    if (conn.closed) return 'disconnected'
    // As Mosquitto's runner: still connected when a ping is answered. Aedes handles the packets of one
    // read concurrently and reads on when all are done, so the second PINGREQ, sent after the first
    // PINGRESP, is read only after every packet of the vector has been handled
    for (let i = 0; i < 2; i++) {
      const r = await conn.ping()
      if (r !== 'ok') return r === 'closed' ? 'disconnected' : 'silent'
    }
    return 'open'
  } finally {
    await conn.destroy()
  }
}

t.test('Mosquitto broker vectors against the hub', { skip: existsSync(dir) ? false : `no test data at ${dir} (../shared/testdata is not in this clone)` }, async (t) => {
  const vectors = loadVectors()
  const hub = await startTestHub(t, {
    // The replay opens some 1,500 connections from one address within seconds: that address limit is
    // tested elsewhere; the CONNECT deadline is shortened so a vector left waiting for a CONNECT to end
    // is closed well within ANSWER_BOUND_MS
    brokerLimits: { connectRatePerIp: 0, connectDeadlineMs: CONNECT_DEADLINE_MS }
  })
  const token = await hub.login()
  const devices: Credentials[] = []
  for (let i = 0; i < WORKERS; i++) devices.push((await hub.createDevice(token)).credentials)

  const results: Result[] = []
  const queue = vectors.map((vector) => ({ vector, kind: kindOf(vector) }))
  await Promise.all(devices.map(async (credentials) => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      results.push({ ...next, outcome: await replay(hub.mqttPort, next.vector, next.kind, credentials) })
    }
  }))

  const names = (rs: Result[]): string[] => rs.map((r) => `${r.vector.id} [${r.kind}]`).sort()
  const of = (kind: Kind): Result[] => results.filter((r) => r.kind === kind)
  const expected = results.filter((r) => r.vector.expectDisconnect)
  const judged = expected.filter((r) => r.kind !== 'third-party-publish')
  const missed = judged.filter((r) => r.outcome === 'open')
  const silent = results.filter((r) => r.outcome === 'silent')
  const stricter = results.filter((r) => !r.vector.expectDisconnect && r.outcome === 'disconnected' && r.kind !== 'mqtt5')

  // The hub must still serve a device after the whole replay
  const probe = await Connection.open(hub.mqttPort)
  probe.send(sessionConnect(4, devices[0]))
  const alive = await probe.until(() => probe.count(CONNACK) > 0) === 'ok' && probe.packets[0].body[1] === 0 && await probe.ping() === 'ok'
  await probe.destroy()
  const health = await fetch(hub.httpUrl + '/metrics').then((res) => res.status, () => 0)
  const crashes = silent.length + (alive ? 0 : 1) + (health === 200 ? 0 : 1)

  t.comment(`${results.length} vectors replayed: ${of('session').length} in an authenticated session, ` +
    `${of('first-packet').length} as the first packet, ${of('mqtt5').length} MQTT 5 (refused at CONNECT), ` +
    `${of('third-party-publish').length} needing a third-party publish (not judged)`)
  t.comment(`${expected.length} expect a disconnect (${judged.length} judged): missed ${missed.length}; ` +
    `crashes ${crashes}; MQTT 3.1.1/3.1 vectors where the hub disconnects and Mosquitto does not: ${stricter.length}`)
  t.comment(`hub stricter than Mosquitto (its ACL and authentication): ${names(stricter).join('; ')}`)
  t.comment(`not judged: ${of('third-party-publish').map((r) => `${r.vector.id} → ${r.outcome}`).sort().join('; ')}`)

  t.equal(results.length, vectors.length, 'every vector replayed')
  t.same(names(results.filter((r) => r.outcome === 'not-in-session')), [], 'every session vector ran inside an authenticated session')
  t.equal(crashes, 0, `crashes: ${crashes} (silent: ${names(silent).join('; ') || 'none'}; probe ${alive ? 'served' : 'not served'}; /metrics ${health})`)
  t.equal(missed.length, 0, `missed disconnects: ${missed.length}: ${names(missed).join('; ') || 'none'}`)
  t.same(names(missed), [], 'no vector where Mosquitto disconnects and the hub keeps the connection open')
  // The method can see an open connection: Mosquitto's keep-open vectors that need no publish by the
  // device and no foreign topic stay open on the hub too
  const keptOpen = ['v3.1.1 PINGREQ / C0 valid', 'v3.1.1 PUBACK / 40 unsolicited', 'v3.1.1 PUBREL / 62 unsolicited', 'v3.1.1 UNSUBSCRIBE / A2 (no subscribe) [MQTT-3.10.4-5]', 'v3.1.1 SUBSCRIBE / 82 single ok QoS 1 [MQTT-3.8.4-1]']
  t.same(results.filter((r) => keptOpen.includes(r.vector.id)).map((r) => `${r.vector.id} → ${r.outcome}`).sort(), keptOpen.map((id) => `${id} → open`).sort(), 'valid vectors keep their session')
  // MQTT 5 vectors never reach a session: the hub refuses the CONNECT
  t.same(names(of('mqtt5').filter((r) => r.outcome !== 'disconnected')), [], 'every MQTT 5 vector ends disconnected')
})
