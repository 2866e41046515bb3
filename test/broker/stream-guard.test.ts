// Tests for the stream guard between accepted sockets and Aedes (RELIABILITY.md A.1-A.4, B.8, B.9, C.21)
import t from 'tap'
import net from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Duplex } from 'node:stream'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import mqtt from 'mqtt'
import { Aedes } from 'aedes'
import { defaultStreamGuardLimits, guardStream } from '../../broker/stream-guard.ts'
import type { GuardRejection, GuardRejectionCode, StreamGuardLimits } from '../../broker/stream-guard.ts'

/** The part of a tap test the harness needs */
interface Test { teardown: (fn: () => void) => void }

const limits: StreamGuardLimits = { maxPacketBytes: 1024, maxBytesBeforeConnect: 512, connectDeadlineMs: 5_000 }
const CONNACK_REFUSED = Buffer.from([0x20, 0x02, 0x00, 0x01])

/** The accepted socket as the guard sees it: `feed` is what the client sends, `written` what the hub sent */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = []
  readonly remoteAddress = '192.0.2.7'
  readonly remotePort = 41234
  holdWrites = false
  private pendingWrites: Array<() => void> = []

  constructor () {
    super({ allowHalfOpen: false })
  }

  override _read (): void {}

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.written.push(chunk)
    if (this.holdWrites) this.pendingWrites.push(() => callback())
    else callback()
  }

  feed (bytes: Buffer): void {
    this.push(bytes)
  }

  releaseWrites (): void {
    const pending = this.pendingWrites
    this.pendingWrites = []
    for (const release of pending) release()
  }

  sent (): Buffer {
    return Buffer.concat(this.written)
  }
}

interface Harness {
  socket: FakeSocket
  guard: Duplex
  rejections: GuardRejection[]
  errors: Error[]
  out: Buffer[]
  received: () => Buffer
}

function harness (tt: Test, lim: StreamGuardLimits = limits, read = true): Harness {
  const socket = new FakeSocket()
  const rejections: GuardRejection[] = []
  const guard = guardStream(socket, lim, r => rejections.push(r))
  const out: Buffer[] = []
  const errors: Error[] = []
  if (read) guard.on('data', (c: Buffer) => out.push(c))
  guard.on('error', e => errors.push(e))
  tt.teardown(() => { guard.destroy(); socket.destroy() })
  return { socket, guard, rejections, errors, out, received: () => Buffer.concat(out) }
}

/** Lets queued stream events run */
async function settle (): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise(resolve => setImmediate(resolve))
}

type FeedMode = 'whole' | 'byte-at-a-time' | 'random-chunks'

async function feed (h: Harness, bytes: Buffer, mode: FeedMode): Promise<void> {
  if (mode === 'whole') {
    h.socket.feed(bytes)
  } else if (mode === 'byte-at-a-time') {
    for (let i = 0; i < bytes.length && !h.socket.destroyed; i++) {
      h.socket.feed(bytes.subarray(i, i + 1))
      await settle()
    }
  } else {
    let seed = bytes.length
    for (let i = 0; i < bytes.length && !h.socket.destroyed;) {
      seed = (seed * 1103515245 + 12345) % 2147483648
      const size = 1 + (seed % 37)
      h.socket.feed(bytes.subarray(i, i + size))
      i += size
      await settle()
    }
  }
  await settle()
}

const gen = (p: Packet): Buffer => mqttPacket.generate(p)

const CONNECT = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev-1', clean: true, keepalive: 60 })

/** A CONNECT with any protocol name and level (mqtt-packet only generates the valid ones) */
function rawConnect (name: string, level: number): Buffer {
  const nameBytes = Buffer.from(name, 'latin1')
  const body = Buffer.concat([
    Buffer.from([0, nameBytes.length]), nameBytes, Buffer.from([level, 0x02, 0, 60, 0, 1, 0x61])
  ])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

function validSequence (): Buffer[] {
  return [
    CONNECT,
    gen({ cmd: 'publish', topic: 'devices/dev-1/telemetry', payload: Buffer.from('{"t":21.5}'), qos: 0, retain: false, dup: false }),
    gen({ cmd: 'publish', topic: 'devices/dev-1/telemetry', payload: Buffer.alloc(300, 7), qos: 1, messageId: 1, retain: false, dup: false }),
    gen({ cmd: 'publish', topic: 'devices/dev-1/status', payload: Buffer.from('up'), qos: 2, messageId: 2, retain: true, dup: true }),
    gen({ cmd: 'publish', topic: 'x', payload: Buffer.alloc(0), qos: 1, messageId: 65535, retain: false, dup: false }),
    gen({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'devices/dev-1/commands', qos: 1 }] }),
    gen({ cmd: 'puback', messageId: 9 }),
    gen({ cmd: 'pubrec', messageId: 10 }),
    gen({ cmd: 'pubrel', messageId: 10 }),
    gen({ cmd: 'pubcomp', messageId: 10 }),
    gen({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['devices/dev-1/commands'] }),
    // Filters and topics at the edges of the rules: wildcards where allowed, multi-byte characters
    subscribeRaw([utf8('devices/dev-1/commands/+'), utf8('+/+/#'), utf8('#'), utf8('+'), utf8('/'), utf8('a//b/')], 0x02),
    subscribeRaw([utf8('ü/𪛔/€'), hex('f4 8f bf bd'), hex('ee 80 80'), hex('ef bf bd'), hex('c2 a0'), utf8('$SYS/#')], 0x00),
    unsubscribeRaw([utf8('devices/dev-1/commands/+'), utf8('ü/𪛔'), utf8('#')]),
    publishRaw(utf8('devices/dev-1/ü𪛔€ /x'), 2),
    publishRaw(utf8('/'), 0),
    gen({ cmd: 'pingreq' }),
    gen({ cmd: 'disconnect' })
  ]
}

/** A PUBLISH whose whole packet is exactly `total` bytes (2-byte remaining length) */
function publishOfTotal (total: number): Buffer {
  const remaining = total - 3
  const header = Buffer.from([0x30, (remaining & 0x7f) | 0x80, remaining >> 7])
  const body = Buffer.alloc(remaining, 0x61)
  body.writeUInt16BE(1, 0)
  return Buffer.concat([header, body])
}

interface RejectionCase { name: string, before: Buffer, offending: Buffer, code: GuardRejectionCode, lim?: StreamGuardLimits }

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex')

/** A packet with its remaining length encoded (any length, any body: also the malformed ones) */
function frame (first: number, body: Buffer): Buffer {
  const length: number[] = []
  let n = body.length
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
    n >>= 7
  } while (n > 0)
  return Buffer.concat([Buffer.from([first, ...length]), body])
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])
/** A length-prefixed string: `utf8` from a JS string, or raw bytes given as hex */
const mqttString = (raw: Buffer): Buffer => Buffer.concat([u16(raw.length), raw])
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8')

function subscribeRaw (filters: Buffer[], options = 0x01, id = 0x1234): Buffer {
  return frame(0x82, Buffer.concat([u16(id), ...filters.flatMap(f => [mqttString(f), Buffer.from([options])])]))
}

function unsubscribeRaw (filters: Buffer[], id = 0x1234): Buffer {
  return frame(0xa2, Buffer.concat([u16(id), ...filters.map(mqttString)]))
}

function publishRaw (topic: Buffer, qos = 0): Buffer {
  return frame(0x30 | (qos << 1), Buffer.concat([mqttString(topic), qos > 0 ? u16(7) : Buffer.alloc(0), utf8('{"t":1}')]))
}

/** Strings a topic name or filter may not hold, as raw UTF-8 (or not-UTF-8) bytes after 'top' */
const badStrings: Array<[string, string]> = [
  ['U+0000', '00'],
  ['U+0001 (C0)', '01'],
  ['U+001F (C0)', '1f'],
  ['U+007F (DEL)', '7f'],
  ['U+0080 (C1)', 'c2 80'],
  ['U+009F (C1)', 'c2 9f'],
  ['U+D800 (CESU surrogate)', 'ed a0 80'],
  ['U+DFFF (CESU surrogate)', 'ed bf bf'],
  ['a CESU-8 surrogate pair', 'ed a0 bd ed b8 80'],
  ['U+FFFF', 'ef bf bf'],
  ['U+FFFE', 'ef bf be'],
  ['U+FDD0', 'ef b7 90'],
  ['U+1FFFF', 'f0 9f bf bf'],
  ['U+10FFFF', 'f4 8f bf bf'],
  ['a code point above U+10FFFF', 'f4 90 80 80'],
  ['byte F5', 'f5 80 80 80'],
  ['overlong / (C0 AF)', 'c0 af'],
  ['overlong / (E0 80 AF)', 'e0 80 af'],
  ['overlong U+FFFF (F0 8F BF BF)', 'f0 8f bf bf'],
  ['a lone continuation byte', '80'],
  ['a sequence cut by the next character', 'e2 82 41'],
  ['a sequence cut by the end of the string', 'e2 82']
]
const badString = (bytes: string): Buffer => Buffer.concat([utf8('top'), hex(bytes)])

const bigConnect = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev-1', clean: true, keepalive: 60, username: 'u', password: Buffer.alloc(600) })
const none = Buffer.alloc(0)

const rejectionCases: RejectionCase[] = [
  { name: 'remaining length of 5 bytes', before: CONNECT, offending: hex('30 ff ff ff ff 01'), code: 'malformed-length' },
  { name: 'CONNECT with a 5-byte remaining length', before: none, offending: hex('10 80 80 80 80 01'), code: 'malformed-length' },
  { name: 'PUBLISH shorter than its topic', before: CONNECT, offending: hex('30 03 00 05 61'), code: 'malformed-length' },
  { name: 'QoS 1 PUBLISH without room for the id', before: CONNECT, offending: hex('32 04 00 01 61 00'), code: 'malformed-length' },
  { name: 'CONNECT without a protocol level', before: none, offending: hex('10 06 00 04 4d 51 54 54'), code: 'malformed-length' },
  { name: 'empty CONNECT', before: none, offending: hex('10 00'), code: 'malformed-length' },
  { name: 'PUBLISH one byte over the limit', before: CONNECT, offending: publishOfTotal(1025), code: 'packet-too-large' },
  { name: 'CONNECT claiming 256 MB', before: none, offending: hex('10 ff ff ff 7f'), code: 'packet-too-large' },
  { name: 'packet type 0', before: CONNECT, offending: hex('00 00'), code: 'reserved-packet-type' },
  { name: 'packet type 15', before: CONNECT, offending: hex('f0 00'), code: 'reserved-packet-type' },
  { name: 'packet type 15 first', before: none, offending: hex('f0 00'), code: 'reserved-packet-type' },
  { name: 'PUBLISH first', before: none, offending: hex('30 03 00 01 61'), code: 'first-packet-not-connect' },
  { name: 'PINGREQ first', before: none, offending: hex('c0 00'), code: 'first-packet-not-connect' },
  { name: 'second CONNECT', before: CONNECT, offending: CONNECT, code: 'second-connect' },
  { name: 'MQTT 5', before: none, offending: gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'dev-1', clean: true, keepalive: 60 }), code: 'unsupported-protocol' },
  { name: 'MQTT level 3', before: none, offending: rawConnect('MQTT', 3), code: 'unsupported-protocol' },
  { name: 'MQIsdp level 4', before: none, offending: rawConnect('MQIsdp', 4), code: 'unsupported-protocol' },
  { name: 'bridge level 0x84', before: none, offending: rawConnect('MQTT', 0x84), code: 'unsupported-protocol' },
  { name: 'unknown protocol name', before: none, offending: rawConnect('HTTP/1.1', 4), code: 'unsupported-protocol' },
  { name: 'PUBLISH QoS 3', before: CONNECT, offending: hex('36 05 00 01 61 00 01'), code: 'bad-publish-flags' },
  { name: 'PUBLISH QoS 0 with DUP', before: CONNECT, offending: hex('38 03 00 01 61'), code: 'bad-publish-flags' },
  { name: 'QoS 1 PUBLISH with id 0', before: CONNECT, offending: hex('32 07 00 01 61 00 00 68 69'), code: 'publish-message-id-zero' },
  { name: 'QoS 2 PUBLISH with id 0', before: CONNECT, offending: hex('34 05 00 01 61 00 00'), code: 'publish-message-id-zero' },
  { name: 'SUBSCRIBE flags 0', before: CONNECT, offending: hex('80 06 00 01 00 01 61 00'), code: 'bad-fixed-header-flags' },
  { name: 'UNSUBSCRIBE flags 0', before: CONNECT, offending: hex('a0 05 00 01 00 01 61'), code: 'bad-fixed-header-flags' },
  { name: 'PUBREL flags 0', before: CONNECT, offending: hex('60 02 00 01'), code: 'bad-fixed-header-flags' },
  { name: 'PUBACK flags 2', before: CONNECT, offending: hex('42 02 00 01'), code: 'bad-fixed-header-flags' },
  { name: 'PINGREQ flags 1', before: CONNECT, offending: hex('c1 00'), code: 'bad-fixed-header-flags' },
  { name: 'DISCONNECT flags 2', before: CONNECT, offending: hex('e2 00'), code: 'bad-fixed-header-flags' },
  { name: 'CONNECT flags 2', before: none, offending: Buffer.concat([hex('12'), CONNECT.subarray(1)]), code: 'bad-fixed-header-flags' },
  { name: 'CONNECT over the pre-CONNECT budget', before: none, offending: bigConnect, code: 'pre-connect-budget' },
  // Fixed remaining lengths (RELIABILITY.md G.54): acknowledgements exactly 2, PINGREQ/DISCONNECT 0
  { name: 'PUBACK remaining length 3', before: CONNECT, offending: hex('40 03 00 01 00'), code: 'malformed-length' },
  { name: 'PUBACK remaining length 0', before: CONNECT, offending: hex('40 00'), code: 'malformed-length' },
  { name: 'PUBREC remaining length 1', before: CONNECT, offending: hex('50 01 01'), code: 'malformed-length' },
  { name: 'PUBREC remaining length 4 (MQTT 5 reason code)', before: CONNECT, offending: hex('50 04 00 01 00 00'), code: 'malformed-length' },
  { name: 'PUBREL remaining length 3', before: CONNECT, offending: hex('62 03 00 01 00'), code: 'malformed-length' },
  { name: 'PUBCOMP remaining length 0', before: CONNECT, offending: hex('70 00'), code: 'malformed-length' },
  { name: 'PUBCOMP claiming 200 bytes', before: CONNECT, offending: Buffer.concat([hex('70 c8 01'), Buffer.alloc(200)]), code: 'malformed-length' },
  { name: 'PINGREQ with a payload', before: CONNECT, offending: hex('c0 01 00'), code: 'malformed-length' },
  { name: 'DISCONNECT with a payload', before: CONNECT, offending: hex('e0 01 00'), code: 'malformed-length' },
  // Packet identifiers are never 0
  { name: 'PUBACK for id 0', before: CONNECT, offending: hex('40 02 00 00'), code: 'message-id-zero' },
  { name: 'PUBREC for id 0', before: CONNECT, offending: hex('50 02 00 00'), code: 'message-id-zero' },
  { name: 'PUBREL for id 0', before: CONNECT, offending: hex('62 02 00 00'), code: 'message-id-zero' },
  { name: 'PUBCOMP for id 0', before: CONNECT, offending: hex('70 02 00 00'), code: 'message-id-zero' },
  { name: 'SUBSCRIBE with id 0', before: CONNECT, offending: subscribeRaw([utf8('p')], 0, 0), code: 'message-id-zero' },
  { name: 'UNSUBSCRIBE with id 0', before: CONNECT, offending: unsubscribeRaw([utf8('p')], 0), code: 'message-id-zero' },
  // Packets only a server sends
  { name: 'CONNACK from the client', before: CONNECT, offending: hex('20 02 00 00'), code: 'server-packet' },
  { name: 'SUBACK from the client', before: CONNECT, offending: hex('90 03 00 01 00'), code: 'server-packet' },
  { name: 'UNSUBACK from the client', before: CONNECT, offending: hex('b0 02 00 01'), code: 'server-packet' },
  { name: 'PINGRESP from the client', before: CONNECT, offending: hex('d0 00'), code: 'server-packet' },
  // SUBSCRIBE / UNSUBSCRIBE structure
  { name: 'SUBSCRIBE without a filter', before: CONNECT, offending: hex('82 02 12 34'), code: 'no-topic-filter' },
  { name: 'UNSUBSCRIBE without a filter', before: CONNECT, offending: hex('a2 02 12 34'), code: 'no-topic-filter' },
  { name: 'SUBSCRIBE without an identifier', before: CONNECT, offending: hex('82 01 12'), code: 'malformed-length' },
  { name: 'empty SUBSCRIBE', before: CONNECT, offending: hex('82 00'), code: 'malformed-length' },
  { name: 'UNSUBSCRIBE with half a length', before: CONNECT, offending: hex('a2 03 12 34 00'), code: 'malformed-length' },
  { name: 'SUBSCRIBE without its options byte', before: CONNECT, offending: hex('82 05 12 34 00 01 70'), code: 'malformed-length' },
  { name: 'SUBSCRIBE with a trailing byte', before: CONNECT, offending: hex('82 07 12 34 00 01 70 00 00'), code: 'malformed-length' },
  { name: 'SUBSCRIBE filter longer than the packet', before: CONNECT, offending: hex('82 08 12 34 00 09 70 71 72 00'), code: 'malformed-length' },
  { name: 'UNSUBSCRIBE filter longer than the packet', before: CONNECT, offending: hex('a2 05 12 34 00 02 70'), code: 'malformed-length' },
  { name: 'SUBSCRIBE with an empty filter', before: CONNECT, offending: subscribeRaw([utf8('')]), code: 'invalid-topic' },
  { name: 'SUBSCRIBE with an empty second filter', before: CONNECT, offending: subscribeRaw([utf8('q'), utf8('')]), code: 'invalid-topic' },
  { name: 'UNSUBSCRIBE with an empty second filter', before: CONNECT, offending: unsubscribeRaw([utf8('q'), utf8('')]), code: 'invalid-topic' },
  { name: 'SUBSCRIBE requested QoS 3', before: CONNECT, offending: subscribeRaw([utf8('p')], 0x03), code: 'bad-subscribe-options' },
  { name: 'SUBSCRIBE reserved bit 2 (MQTT 5 no-local)', before: CONNECT, offending: subscribeRaw([utf8('p')], 0x04), code: 'bad-subscribe-options' },
  { name: 'SUBSCRIBE reserved bit 7', before: CONNECT, offending: subscribeRaw([utf8('p')], 0x81), code: 'bad-subscribe-options' },
  { name: 'SUBSCRIBE second filter QoS 3', before: CONNECT, offending: Buffer.concat([subscribeRaw([utf8('p'), utf8('q')], 0x01).subarray(0, -1), hex('03')]), code: 'bad-subscribe-options' },
  // Wildcards (section 4.7.1)
  { name: "SUBSCRIBE 'a/#/b'", before: CONNECT, offending: subscribeRaw([utf8('a/#/b')]), code: 'invalid-topic' },
  { name: "SUBSCRIBE 'a/b#'", before: CONNECT, offending: subscribeRaw([utf8('a/b#')]), code: 'invalid-topic' },
  { name: "SUBSCRIBE 'a/+b'", before: CONNECT, offending: subscribeRaw([utf8('a/+b')]), code: 'invalid-topic' },
  { name: "UNSUBSCRIBE 'a+/b'", before: CONNECT, offending: unsubscribeRaw([utf8('a+/b')]), code: 'invalid-topic' },
  { name: "UNSUBSCRIBE '##'", before: CONNECT, offending: unsubscribeRaw([utf8('##')]), code: 'invalid-topic' },
  { name: "PUBLISH to 'a/+'", before: CONNECT, offending: publishRaw(utf8('a/+')), code: 'invalid-topic' },
  { name: "PUBLISH to 'a/#' QoS 1", before: CONNECT, offending: publishRaw(utf8('a/#'), 1), code: 'invalid-topic' },
  { name: 'PUBLISH to an empty topic', before: CONNECT, offending: publishRaw(utf8('')), code: 'invalid-topic' },
  // Strings: every bad form in SUBSCRIBE, and in UNSUBSCRIBE and PUBLISH topics
  ...badStrings.flatMap(([what, bytes]): RejectionCase[] => [
    { name: `SUBSCRIBE filter with ${what}`, before: CONNECT, offending: subscribeRaw([badString(bytes)]), code: 'invalid-string' },
    { name: `SUBSCRIBE second filter with ${what}`, before: CONNECT, offending: subscribeRaw([utf8('devices/dev-1/commands/#'), badString(bytes)]), code: 'invalid-string' },
    { name: `UNSUBSCRIBE filter with ${what}`, before: CONNECT, offending: unsubscribeRaw([badString(bytes)]), code: 'invalid-string' },
    { name: `PUBLISH topic with ${what}`, before: CONNECT, offending: publishRaw(badString(bytes), 1), code: 'invalid-string' }
  ]),
  { name: 'SUBSCRIBE with a surrogate after 600 bytes of multi-byte characters', before: CONNECT, offending: subscribeRaw([Buffer.concat([utf8('ü𪛔€'.repeat(67)), hex('ed a0 80')])]), code: 'invalid-string' }
]

t.test('every rejection code, fed whole, byte at a time and in random chunks', async t => {
  for (const c of rejectionCases) {
    for (const mode of ['whole', 'byte-at-a-time', 'random-chunks'] as const) {
      await t.test(`${c.name} (${mode})`, async t => {
        const h = harness(t, c.lim ?? limits)
        const input = Buffer.concat([c.before, c.offending, gen({ cmd: 'pingreq' })])
        await feed(h, input, mode)
        t.same(h.rejections.map(r => r.code), [c.code], 'rejected once with the expected code')
        t.type(h.rejections[0]?.detail, 'string')
        const received = h.received()
        t.ok(input.subarray(0, received.length).equals(received), 'what Aedes saw is a prefix of the input')
        t.ok(received.length < c.before.length + c.offending.length, 'Aedes never saw the offending packet complete')
        if (c.code === 'unsupported-protocol') {
          t.same(h.socket.sent(), CONNACK_REFUSED, 'CONNACK 0x01 written [MQTT-3.1.2-2]')
          t.equal(h.socket.writableEnded, true, 'socket ended after the CONNACK')
          t.equal(received.length, 0, 'Aedes never saw the CONNECT: no half-open session')
        } else {
          t.equal(h.socket.destroyed, true, 'socket destroyed')
          t.equal(h.socket.sent().length, 0, 'nothing written to the client')
        }
        await settle()
        t.equal(h.guard.destroyed, true, 'guard destroyed')
        t.same(h.errors, [], 'no error event')
      })
    }
  }
})

t.test('a packet of many filters, written one byte per chunk, is checked to its last byte', async t => {
  const filters = Array.from({ length: 40 }, (_, i) => utf8(`devices/dev-1/ü𪛔/${i}/+`))
  const good = subscribeRaw(filters)
  const bad = subscribeRaw([...filters, badString('ef bf bf')])
  const lim = { ...limits, maxPacketBytes: 4096 }
  for (const mode of ['byte-at-a-time', 'random-chunks'] as const) {
    const ok = harness(t, lim)
    await feed(ok, Buffer.concat([CONNECT, good]), mode)
    t.same(ok.rejections, [], `${good.length}-byte SUBSCRIBE accepted (${mode})`)
    t.ok(ok.received().equals(Buffer.concat([CONNECT, good])), 'passed through whole')
    const refused = harness(t, lim)
    await feed(refused, Buffer.concat([CONNECT, bad]), mode)
    t.same(refused.rejections.map(r => r.code), ['invalid-string'], `U+FFFF in the 41st filter refused (${mode})`)
    t.match(refused.rejections[0]?.detail, /U\+FFFF/)
    // The U+FFFF ends 2 bytes before the packet (its options byte follows): the chunk holding its last
    // byte is the first one not passed on
    const atRefusal = CONNECT.length + bad.length - 2
    if (mode === 'byte-at-a-time') t.equal(refused.received().length, atRefusal, 'refused at the last byte of the U+FFFF')
    else t.ok(refused.received().length <= atRefusal, 'nothing from the refusing chunk on was passed on')
  }
})

t.test('the default frame cap is 1 MB: a PUBLISH of exactly 1 MB passes, one byte more is closed', async t => {
  t.equal(defaultStreamGuardLimits.maxPacketBytes, 1024 * 1024)
  const cap = defaultStreamGuardLimits.maxPacketBytes
  const publishOf = (total: number): Buffer => {
    const topic = mqttString(utf8('devices/dev-1/notifications'))
    const header = Buffer.from([0x30, 0, 0, 0])
    const payload = Buffer.alloc(total - header.length - topic.length, 0x61)
    const p = frame(0x30, Buffer.concat([topic, payload]))
    t.equal(p.length, total)
    return p
  }
  const ok = harness(t, defaultStreamGuardLimits)
  const atCap = publishOf(cap)
  await feed(ok, Buffer.concat([CONNECT, atCap]), 'whole')
  t.same(ok.rejections, [])
  t.equal(ok.received().length, CONNECT.length + cap)
  const over = harness(t, defaultStreamGuardLimits)
  await feed(over, Buffer.concat([CONNECT, publishOf(cap + 1)]), 'whole')
  t.same(over.rejections.map(r => r.code), ['packet-too-large'])
  t.ok(over.received().length <= CONNECT.length, 'nothing of the oversized PUBLISH reached Aedes')
  t.equal(over.socket.destroyed, true)
})

t.test('valid packets pass through unchanged however they are chunked', async t => {
  const input = Buffer.concat(validSequence())
  for (const mode of ['whole', 'byte-at-a-time', 'random-chunks'] as const) {
    await t.test(mode, async t => {
      const h = harness(t)
      await feed(h, input, mode)
      t.same(h.rejections, [])
      t.ok(h.received().equals(input), 'bytes out equal bytes in')
      t.equal(h.socket.destroyed, false)
    })
  }
})

t.test('chunks after CONNECT are passed on as the same buffers, not copied', async t => {
  const h = harness(t)
  h.socket.feed(CONNECT)
  await settle()
  const chunk = Buffer.concat(validSequence().slice(1, 4))
  h.socket.feed(chunk)
  await settle()
  t.equal(h.out.length, 2)
  t.equal(h.out[1], chunk, 'same Buffer object')
})

t.test('MQTT 3.1 (MQIsdp level 3) and size limits are accepted up to the boundary', async t => {
  const h = harness(t)
  const connect31 = gen({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'dev-1', clean: true, keepalive: 60 })
  const atLimit = publishOfTotal(limits.maxPacketBytes)
  await feed(h, Buffer.concat([connect31, atLimit]), 'whole')
  t.same(h.rejections, [])
  t.equal(h.received().length, connect31.length + atLimit.length)

  const h2 = harness(t)
  const withPassword = (n: number): Buffer => gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev-1', clean: true, keepalive: 60, username: 'u', password: Buffer.alloc(n) })
  const connectAtBudget = withPassword(limits.maxBytesBeforeConnect - withPassword(0).length - 1)
  t.equal(connectAtBudget.length, limits.maxBytesBeforeConnect, 'test CONNECT is exactly the budget')
  await feed(h2, connectAtBudget, 'byte-at-a-time')
  t.same(h2.rejections, [])
  t.ok(h2.received().equals(connectAtBudget))
})

t.test('the CONNECT is held back until complete, then released', async t => {
  const h = harness(t)
  h.socket.feed(CONNECT.subarray(0, CONNECT.length - 1))
  await settle()
  t.equal(h.received().length, 0, 'nothing passed before the CONNECT is complete')
  h.socket.feed(Buffer.concat([CONNECT.subarray(-1), hex('c0 00')]))
  await settle()
  t.ok(h.received().equals(Buffer.concat([CONNECT, hex('c0 00')])))
})

t.test('connect deadline', async t => {
  const lim = { ...limits, connectDeadlineMs: 200 }
  await t.test('a silent connection is closed at the deadline', async t => {
    const h = harness(t, lim)
    const started = Date.now()
    await once(h.guard, 'close')
    t.ok(Date.now() - started >= 190, 'not before the deadline')
    t.same(h.rejections.map(r => r.code), ['connect-deadline'])
    t.equal(h.socket.destroyed, true)
  })
  await t.test('a CONNECT dripped one byte at a time is closed at the deadline', async t => {
    const h = harness(t, lim)
    const started = Date.now()
    let sent = 0
    while (!h.socket.destroyed && sent < CONNECT.length) {
      h.socket.feed(CONNECT.subarray(sent, ++sent))
      await sleep(50) // the drip's pace: one byte every 50 ms, the whole CONNECT well past the deadline
    }
    t.ok(sent < CONNECT.length, 'closed before the drip finished')
    t.ok(Date.now() - started >= 190, 'not before the deadline')
    t.same(h.rejections.map(r => r.code), ['connect-deadline'])
    t.equal(h.received().length, 0)
  })
  await t.test('a complete CONNECT clears the deadline', async t => {
    const timers = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
    const baseline = timers()
    const h = harness(t, lim)
    t.equal(timers(), baseline + 1, 'deadline timer armed')
    await feed(h, CONNECT, 'whole')
    t.equal(timers(), baseline, 'deadline timer cleared on CONNECT')
    await sleep(300) // past the 200 ms deadline: a close that does not come announces nothing
    t.same(h.rejections, [])
    t.equal(h.socket.destroyed, false)
  })
  await t.test('closing the socket clears the deadline and our listeners', async t => {
    const timers = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
    const baseline = timers()
    const h = harness(t, lim)
    h.socket.destroy()
    await once(h.guard, 'close')
    t.equal(timers(), baseline, 'no timer left')
    t.equal(h.socket.listenerCount('data'), 0)
    t.equal(h.socket.listenerCount('end'), 0)
    t.equal(h.socket.listenerCount('close'), 0)
    t.same(h.rejections, [])
  })
})

t.test('unsupported protocol: CONNACK 0x01, then the socket closes', async t => {
  await t.test('when the client hangs up after reading the CONNACK', async t => {
    const h = harness(t)
    await feed(h, rawConnect('MQTT', 5), 'whole')
    t.same(h.socket.sent(), CONNACK_REFUSED)
    h.socket.feed(hex('c0 00'))
    h.socket.push(null)
    await once(h.socket, 'close')
    t.same(h.socket.sent(), CONNACK_REFUSED, 'nothing else written')
    t.equal(h.received().length, 0)
  })
  await t.test('when the client never hangs up (linger bound)', async t => {
    const h = harness(t, { ...limits, connectDeadlineMs: 100 })
    await feed(h, rawConnect('MQTT', 5), 'whole')
    await once(h.socket, 'close')
    t.same(h.rejections.map(r => r.code), ['unsupported-protocol'])
  })
})

t.test('backpressure', async t => {
  await t.test('the socket is paused while the reader lags, and resumed by _read', async t => {
    const h = harness(t, { ...limits, maxPacketBytes: 4096 }, false)
    const publishes = Array.from({ length: 64 }, () => publishOfTotal(1024))
    const input = Buffer.concat([CONNECT, ...publishes])
    h.socket.feed(CONNECT)
    for (const p of publishes) h.socket.feed(p)
    await settle()
    t.equal(h.socket.isPaused(), true, 'socket paused')
    t.ok(h.guard.readableLength >= h.guard.readableHighWaterMark, 'guard buffer at its high-water mark')
    t.ok(h.guard.readableLength < input.length, 'the rest stays in the socket')
    const out: Buffer[] = []
    h.guard.on('data', (c: Buffer) => out.push(c))
    await settle()
    t.equal(h.socket.isPaused(), false, 'socket resumed')
    t.ok(Buffer.concat(out).equals(input), 'every byte delivered in order')
  })
  await t.test('writes wait for the socket and signal drain', async t => {
    const h = harness(t)
    await feed(h, CONNECT, 'whole')
    h.socket.holdWrites = true
    const big = Buffer.alloc(h.guard.writableHighWaterMark + 1, 1)
    t.equal(h.guard.write(big), false, 'write() reports backpressure')
    t.equal(h.guard.write(hex('d0 00')), false)
    await settle()
    t.equal(h.socket.written.length, 1, 'the second write waits for the first callback')
    const drained = once(h.guard, 'drain')
    h.socket.releaseWrites()
    await settle()
    h.socket.releaseWrites()
    await drained
    t.ok(h.socket.sent().equals(Buffer.concat([big, hex('d0 00')])), 'bytes written in order')
  })
  await t.test('corked writes go out together', async t => {
    const h = harness(t)
    h.guard.cork()
    h.guard.write(hex('20 02 00 00'))
    h.guard.write(hex('d0 00'))
    h.guard.uncork()
    await settle()
    t.same(h.socket.sent(), hex('20 02 00 00 d0 00'))
  })
})

t.test('lifecycle', async t => {
  await t.test('destroying the guard destroys the socket', async t => {
    const h = harness(t)
    h.guard.destroy()
    await settle()
    t.equal(h.socket.destroyed, true)
  })
  await t.test('destroying the socket closes the guard', async t => {
    const h = harness(t)
    h.socket.destroy()
    await once(h.guard, 'close')
    t.equal(h.guard.destroyed, true)
    t.same(h.errors, [])
  })
  await t.test('a socket error destroys the guard with that error', async t => {
    const h = harness(t)
    const closed = new Promise(resolve => h.guard.on('close', resolve))
    h.socket.destroy(new Error('ECONNRESET'))
    await closed
    t.same(h.errors.map(e => e.message), ['ECONNRESET'])
  })
  await t.test('the client closing ends the guard after its bytes', async t => {
    const h = harness(t)
    const input = Buffer.concat(validSequence())
    h.socket.feed(input)
    h.socket.push(null)
    await once(h.guard, 'end')
    t.ok(h.received().equals(input))
  })
  await t.test('ending the guard ends the socket', async t => {
    const h = harness(t)
    h.guard.end(hex('e0 00'))
    await once(h.socket, 'finish')
    t.same(h.socket.sent(), hex('e0 00'))
  })
  await t.test('remoteAddress and remotePort are copied through', async t => {
    const h = harness(t)
    const g = h.guard as Duplex & { remoteAddress?: string, remotePort?: number }
    t.equal(g.remoteAddress, '192.0.2.7')
    t.equal(g.remotePort, 41234)
  })
  await t.test('onReject is called once and a throwing onReject is contained', async t => {
    const socket = new FakeSocket()
    let calls = 0
    const guard = guardStream(socket, limits, () => { calls++; throw new Error('listener bug') })
    t.teardown(() => { guard.destroy() })
    socket.feed(hex('00 00'))
    socket.feed(hex('f0 00'))
    await settle()
    t.equal(calls, 1)
    t.equal(socket.destroyed, true)
    t.equal(guard.destroyed, true)
  })
})

/** Forces a garbage collection so memory figures are comparable */
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

function retainedBytes (): number {
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

t.test('256 MB claimed header: closed after the header, without buffering', async t => {
  await t.test('in memory, header fed byte at a time', async t => {
    const h = harness(t, defaultStreamGuardLimits)
    await feed(h, hex('10 ff ff ff'), 'byte-at-a-time')
    t.same(h.rejections, [], 'still reading the length')
    h.socket.feed(hex('7f'))
    await settle()
    t.same(h.rejections.map(r => r.code), ['packet-too-large'])
    t.equal(h.socket.destroyed, true, 'closed right after the header')
    t.equal(h.guard.readableLength, 0)
    t.equal(h.received().length, 0)
  })

  await t.test('over TCP into Aedes, while the client keeps streaming', async t => {
    const broker = await Aedes.createBroker()
    const rejections: GuardRejection[] = []
    let serverBytesRead = -1
    let serverSocketClosed = (): void => {}
    const serverClosed = new Promise<void>(resolve => { serverSocketClosed = resolve })
    const server = net.createServer(socket => {
      socket.on('close', () => { serverBytesRead = socket.bytesRead; serverSocketClosed() })
      broker.handle(guardStream(socket, defaultStreamGuardLimits, r => rejections.push(r)))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.teardown(async () => {
      await new Promise<void>(resolve => server.close(() => resolve()))
      await new Promise<void>(resolve => broker.close(() => resolve()))
    })
    const { port } = server.address() as net.AddressInfo

    const before = retainedBytes()
    const rssBefore = process.memoryUsage().rss
    const client = net.connect(port, '127.0.0.1')
    client.on('error', () => {})
    await once(client, 'connect')
    const closed = new Promise<void>(resolve => client.once('close', () => resolve()))
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    client.write(hex('10 ff ff ff 7f'))
    let sent = 0
    while (!client.destroyed && sent < 64 * 1024 * 1024) {
      if (!client.write(chunk)) await Promise.race([new Promise(resolve => client.once('drain', resolve)), closed])
      sent += chunk.length
    }
    await closed
    await serverClosed
    const growth = retainedBytes() - before
    t.comment(`client streamed ${sent} bytes; server read ${serverBytesRead}; heap+buffers growth ${growth}; rss growth ${process.memoryUsage().rss - rssBefore}`)
    t.same(rejections.map(r => r.code), ['packet-too-large'])
    t.ok(serverBytesRead >= 5 && serverBytesRead < 1024 * 1024, 'server stopped reading after the header')
    t.ok(growth < 1024 * 1024, `memory growth ${growth} < 1 MB`)
  })
})

t.test('Aedes integration over TCP with MQTT.js', async t => {
  const broker = await Aedes.createBroker()
  const rejections: GuardRejection[] = []
  const server = net.createServer(socket => {
    broker.handle(guardStream(socket, { ...defaultStreamGuardLimits, connectDeadlineMs: 2_000 }, r => rejections.push(r)))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const clients: mqtt.MqttClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.endAsync(true)
    await new Promise<void>(resolve => server.close(() => resolve()))
    await new Promise<void>(resolve => broker.close(() => resolve()))
  })
  const { port } = server.address() as net.AddressInfo
  const url = `mqtt://127.0.0.1:${port}`
  const connected: string[] = []
  broker.on('client', c => connected.push(c.id))

  await t.test('MQTT 3.1.1 client publishes QoS 1 and gets the PUBACK', async t => {
    const published = new Promise<string>(resolve => broker.on('publish', (p, c) => { if (c !== null) resolve(p.payload.toString()) }))
    const client = await mqtt.connectAsync(url, { clientId: 'dev-311', reconnectPeriod: 0 })
    clients.push(client)
    const acks: number[] = []
    client.on('packetreceive', p => { if (p.cmd === 'puback') acks.push(p.messageId ?? -1) })
    const sent = await client.publishAsync('devices/dev-311/telemetry', 'hello', { qos: 1 })
    t.ok(sent?.messageId !== undefined && sent.messageId > 0)
    t.same(acks, [sent?.messageId], 'PUBACK received for the message id')
    t.equal(await published, 'hello')
  })

  await t.test('MQTT 3.1 client connects', async t => {
    const client = await mqtt.connectAsync(url, { clientId: 'dev-31', protocolId: 'MQIsdp', protocolVersion: 3, reconnectPeriod: 0 })
    clients.push(client)
    t.equal(client.connected, true)
  })

  await t.test('MQTT 5 client is refused with a return code, no session', async t => {
    await t.rejects(mqtt.connectAsync(url, { clientId: 'dev-5', protocolVersion: 5, reconnectPeriod: 0 }), { code: 1 })
    t.same(rejections.map(r => r.code), ['unsupported-protocol'])
    t.notOk(connected.includes('dev-5'), 'Aedes never registered the MQTT 5 client')
    t.same(connected.sort(), ['dev-31', 'dev-311'])
  })
})
