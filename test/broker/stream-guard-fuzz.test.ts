// Bounded fuzzing of the stream guard with random and mutated MQTT streams (RELIABILITY.md "Replays and fuzzing")
import t from 'tap'
import { Duplex } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import type { IConnectPacket, Packet, QoS } from 'mqtt-packet'
import { guardStream } from '../../broker/stream-guard.ts'
import type { GuardRejection, GuardRejectionCode, StreamGuardLimits } from '../../broker/stream-guard.ts'

const TIME_BUDGET_MS = 4_000
const MAX_CASES = 10_000
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

const KNOWN_CODES: ReadonlySet<GuardRejectionCode> = new Set<GuardRejectionCode>([
  'packet-too-large', 'pre-connect-budget', 'connect-deadline', 'malformed-length', 'reserved-packet-type',
  'first-packet-not-connect', 'second-connect', 'unsupported-protocol', 'bad-publish-flags',
  'publish-message-id-zero', 'bad-fixed-header-flags', 'server-packet', 'message-id-zero', 'invalid-string',
  'invalid-topic', 'no-topic-filter', 'bad-subscribe-options'
])
const CONNACK_REFUSED = Buffer.from([0x20, 0x02, 0x00, 0x01])
const limits: StreamGuardLimits = { maxPacketBytes: 2048, maxBytesBeforeConnect: 256, connectDeadlineMs: 60_000 }

/** mulberry32: small seeded PRNG so a failure can be replayed with FUZZ_SEED */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const random = prng(SEED)
const int = (n: number): number => Math.floor(random() * n)
const pick = <T>(items: readonly T[]): T => items[int(items.length)]
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)))

function randomTopic (): string {
  return Array.from({ length: 1 + int(4) }, () => pick(['devices', 'dev-1', 'telemetry', 'status', 'a', 'ü'])).join('/')
}

function randomConnect (): IConnectPacket {
  const version = pick([4, 4, 4, 3, 5] as const)
  return {
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clientId: `dev-${int(1000)}`,
    clean: random() < 0.5,
    keepalive: int(1200),
    ...(random() < 0.3 ? { username: 'u', password: bytes(int(300)) } : {})
  }
}

function randomPacket (): Packet {
  const messageId = 1 + int(65535)
  switch (int(8)) {
    case 0: case 1: case 2: {
      const qos = int(3) as QoS
      return { cmd: 'publish', topic: randomTopic(), payload: bytes(int(random() < 0.1 ? 2500 : 64)), qos, messageId, retain: random() < 0.2, dup: qos > 0 && random() < 0.2 }
    }
    case 3: return { cmd: 'subscribe', messageId, subscriptions: [{ topic: randomTopic(), qos: int(3) as QoS }] }
    case 4: return { cmd: 'unsubscribe', messageId, unsubscriptions: [randomTopic()] }
    case 5: return { cmd: pick(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const), messageId }
    case 6: return { cmd: 'pingreq' }
    default: return { cmd: 'disconnect' }
  }
}

interface Generated { bytes: Buffer, valid: boolean }

/** A well-formed stream; `valid` says whether it also keeps to the hub's version and size limits */
function generatedStream (): Generated {
  const connect = randomConnect()
  const packets = [connect, ...Array.from({ length: int(8) }, randomPacket)].map(p => mqttPacket.generate(p))
  const valid = connect.protocolVersion !== 5 &&
    packets[0].length <= limits.maxBytesBeforeConnect &&
    packets.every(p => p.length <= limits.maxPacketBytes)
  return { bytes: Buffer.concat(packets), valid }
}

type Mutation = 'none' | 'bit-flip' | 'zero-run' | 'truncate' | 'splice' | 'insert' | 'random'

function mutate (input: Buffer, mutation: Mutation): Buffer {
  switch (mutation) {
    case 'none': return input
    case 'bit-flip': {
      const out = Buffer.from(input)
      for (let i = 1 + int(3); i > 0; i--) out[int(out.length)] ^= 1 << int(8)
      return out
    }
    case 'zero-run': {
      const out = Buffer.from(input)
      const at = int(out.length)
      return out.fill(0, at, Math.min(out.length, at + 1 + int(3)))
    }
    case 'truncate': return input.subarray(0, int(input.length))
    case 'splice': {
      const other = generatedStream().bytes
      return Buffer.concat([input.subarray(0, int(input.length + 1)), other.subarray(int(other.length))])
    }
    case 'insert': {
      const at = int(input.length + 1)
      return Buffer.concat([input.subarray(0, at), bytes(1 + int(6)), input.subarray(at)])
    }
    case 'random': return bytes(int(200))
  }
}

function chunked (input: Buffer, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = []
  for (let i = 0; i < input.length;) {
    const size = 1 + int(maxChunk)
    chunks.push(input.subarray(i, i + size))
    i += size
  }
  return chunks
}

class FakeSocket extends Duplex {
  readonly written: Buffer[] = []
  override _read (): void {}
  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(chunk)
    callback()
  }
}

interface Outcome { code: GuardRejectionCode | 'passed', received: Buffer, problems: string[] }

async function run (chunks: Buffer[], input: Buffer): Promise<Outcome> {
  const socket = new FakeSocket()
  const rejections: GuardRejection[] = []
  const problems: string[] = []
  const out: Buffer[] = []
  const guard = guardStream(socket, limits, r => rejections.push(r))
  guard.on('data', (c: Buffer) => out.push(c))
  guard.on('error', e => problems.push(`guard emitted error: ${e.message}`))
  for (const chunk of chunks) socket.push(chunk)
  for (let i = 0; i < 4; i++) await new Promise(resolve => setImmediate(resolve))
  const received = Buffer.concat(out)
  const passed = rejections.length === 0
  if (rejections.length > 1) problems.push(`onReject called ${rejections.length} times`)
  for (const r of rejections) if (!KNOWN_CODES.has(r.code)) problems.push(`unknown code ${r.code}`)
  if (!input.subarray(0, received.length).equals(received)) problems.push('output is not a prefix of the input')
  if (passed && received.length !== 0 && received.length !== input.length) problems.push('accepted stream not passed through whole')
  if (!passed && rejections[0].code === 'unsupported-protocol' && !Buffer.concat(socket.written).equals(CONNACK_REFUSED)) {
    problems.push('unsupported protocol without CONNACK 0x01')
  }
  if (!passed && rejections[0].code !== 'unsupported-protocol' && !socket.destroyed) problems.push('rejected but socket open')
  guard.destroy()
  socket.destroy()
  return { code: passed ? 'passed' : rejections[0].code, received, problems }
}

t.test('guard survives random and mutated streams', async t => {
  t.comment(`FUZZ_SEED=${SEED}`)
  const started = Date.now()
  const seen = new Map<string, number>()
  const failures: string[] = []
  let cases = 0
  while (cases < MAX_CASES && Date.now() - started < TIME_BUDGET_MS && failures.length < 5) {
    cases++
    const mutation = pick(['none', 'bit-flip', 'bit-flip', 'zero-run', 'truncate', 'splice', 'insert', 'random'] as const)
    const generated = generatedStream()
    const input = mutate(generated.bytes, mutation)
    const whole = await run([input], input)
    const split = await run(chunked(input, pick([1, 7, 64, 1024])), input)
    const problems = [...whole.problems, ...split.problems]
    // The verdict must not depend on how the stream was chunked
    if (whole.code !== split.code) problems.push(`whole → ${whole.code}, chunked → ${split.code}`)
    if (mutation === 'none' && generated.valid && whole.code !== 'passed') problems.push(`valid stream rejected: ${whole.code}`)
    if (problems.length > 0) failures.push(`case ${cases} (${mutation}): ${problems.join('; ')}; input ${input.toString('hex').slice(0, 400)}`)
    seen.set(whole.code, (seen.get(whole.code) ?? 0) + 1)
  }
  t.comment(`${cases} cases in ${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.same(failures, [], 'no invariant broken')
  t.ok(cases >= 200, 'enough cases ran')
  t.ok((seen.get('passed') ?? 0) > 0, 'some streams passed')
  t.ok(seen.size >= 6, 'the mutations reach several rejection paths')
})
