// Stream guard: sits between an accepted socket and `aedes.handle(stream)`.
//
// Aedes 1.2.0 buffers whatever packet length a client claims and has no byte budget or deadline before
// CONNECT (RELIABILITY.md A.1-A.4, B.8, B.9, C.21). The guard tracks MQTT packet boundaries incrementally
// over arbitrary chunking and closes the connection as soon as a framing rule is broken. Bytes are passed
// through unchanged, chunk by chunk; only the CONNECT packet is held back (bounded by the pre-CONNECT
// budget) so that Aedes never sees a CONNECT the hub refuses. Spec references are to MQTT 3.1.1.
//
// After CONNECT it also checks what Mosquitto checks and Aedes 1.2.0 does not (RELIABILITY.md G.54, the
// Mosquitto broker vectors in test/broker/mosquitto-replay.test.ts): the remaining length of the fixed-size
// packets, packets only a server may send, non-zero packet identifiers, and every UTF-8 string of PUBLISH,
// SUBSCRIBE and UNSUBSCRIBE (topic names and filters), one byte at a time, without buffering them.
import { Duplex } from 'node:stream'

export interface StreamGuardLimits {
  /** whole packet (fixed header + remaining length) larger than this → close; the hub's hard frame cap
   * (`HUB_MQTT_MAX_FRAME_BYTES`) */
  maxPacketBytes: number
  /** bytes received before a complete CONNECT larger than this → close */
  maxBytesBeforeConnect: number
  /** the CONNECT packet must be complete within this many ms of guardStream() → close */
  connectDeadlineMs: number
}

export const defaultStreamGuardLimits: StreamGuardLimits = Object.freeze({
  maxPacketBytes: 1024 * 1024,
  maxBytesBeforeConnect: 64 * 1024,
  connectDeadlineMs: 10_000
})

export type GuardRejectionCode =
  | 'packet-too-large'
  | 'pre-connect-budget'
  | 'connect-deadline'
  | 'malformed-length'
  | 'reserved-packet-type'
  | 'first-packet-not-connect'
  | 'second-connect'
  | 'unsupported-protocol'
  | 'bad-publish-flags'
  | 'publish-message-id-zero'
  | 'bad-fixed-header-flags'
  | 'server-packet'
  | 'message-id-zero'
  | 'invalid-string'
  | 'invalid-topic'
  | 'no-topic-filter'
  | 'bad-subscribe-options'

export interface GuardRejection { code: GuardRejectionCode; detail: string }

const CONNECT = 1
const CONNACK = 2
const PUBLISH = 3
const PUBACK = 4
const PUBCOMP = 7
const SUBSCRIBE = 8
const SUBACK = 9
const UNSUBSCRIBE = 10
const UNSUBACK = 11
const PINGREQ = 12
const PINGRESP = 13
const DISCONNECT = 14

const PACKET_NAMES = [
  'reserved(0)', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'reserved(15)'
]

/** Fixed-header flags required by Table 2.2 for every type but PUBLISH [MQTT-2.2.2-1] */
const REQUIRED_FLAGS: ReadonlyMap<number, number> = new Map([
  [1, 0], [2, 0], [4, 0], [5, 0], [6, 0b0010], [7, 0], [8, 0b0010], [9, 0], [10, 0b0010],
  [11, 0], [12, 0], [13, 0], [14, 0]
])

/** Remaining Length is at most four bytes (section 2.2.3) */
const MAX_LENGTH_BYTES = 4

/** CONNECT protocol name + level we accept: 'MQTT' 4 (3.1.1) and 'MQIsdp' 3 (3.1) */
const ACCEPTED_PROTOCOLS: ReadonlyMap<string, number> = new Map([['MQTT', 4], ['MQIsdp', 3]])

/** Enough CONNECT body bytes to read the longest accepted protocol name and the level after it */
const MAX_PROTOCOL_NAME_BYTES = 'MQIsdp'.length
const CONNECT_PEEK_BYTES = 2 + MAX_PROTOCOL_NAME_BYTES + 1

/** CONNACK, return code 0x01 "unacceptable protocol version" [MQTT-3.1.2-2] */
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])

/** Upper bound on how long a refused connection lingers so the CONNACK is read before the close */
const MAX_REFUSAL_LINGER_MS = 2_000

const NO_PEEK = Number.POSITIVE_INFINITY

type Phase = 'type' | 'length' | 'body'

/**
 * Where the body parser of PUBLISH, SUBSCRIBE, UNSUBSCRIBE and the acknowledgements is: a packet
 * identifier byte, a string length byte, a string byte, a SUBSCRIBE options byte, or bytes nobody needs
 * to look at (the PUBLISH payload, CONNECT after its protocol level, PINGREQ and DISCONNECT have none).
 */
type Field = 'id-hi' | 'id-lo' | 'len-hi' | 'len-lo' | 'string' | 'options' | 'skip'

/** What a string is: a PUBLISH topic name (no wildcards) or a SUBSCRIBE/UNSUBSCRIBE topic filter */
type StringKind = 'topic name' | 'topic filter'

/** What one chunk did: a rejection, or where (if in this chunk) the CONNECT packet ended */
type ChunkVerdict = { rejection: GuardRejection } | { rejection?: undefined, connectEnd: number }

function rejection (code: GuardRejectionCode, detail: string): GuardRejection {
  return { code, detail }
}

const hexCodePoint = (cp: number): string => 'U+' + cp.toString(16).toUpperCase().padStart(4, '0')

/**
 * Why a decoded code point may not appear in an MQTT string, or undefined. Section 1.5.3 forbids
 * surrogates [MQTT-1.5.3-1] and U+0000 [MQTT-1.5.3-2]; the control characters and noncharacters it says
 * SHOULD NOT appear are refused too, as Mosquitto refuses them (a topic is an identifier, never text).
 */
function forbiddenCodePoint (cp: number): string | undefined {
  if (cp >= 0xd800 && cp <= 0xdfff) return `the surrogate ${hexCodePoint(cp)}` // [MQTT-1.5.3-1]
  if (cp === 0) return 'U+0000' // [MQTT-1.5.3-2]
  if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return `the control character ${hexCodePoint(cp)}`
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return `the noncharacter ${hexCodePoint(cp)}`
  return undefined
}

/**
 * Incremental UTF-8 check of one string (RFC 3629, as section 1.5.3 requires): at most one partial
 * sequence of state, so a string split across any number of chunks is checked without copying it.
 */
class Utf8Check {
  private need = 0
  private length = 0
  private codePoint = 0

  reset (): void {
    this.need = 0
  }

  /** Feeds one byte: a decoded code point, -1 while inside a sequence, or why the byte is refused */
  byte (b: number): number | string {
    if (this.need === 0) {
      if (b < 0x80) return this.complete(b, 1)
      // C0 and C1 only start overlong forms, F5..FF code points above U+10FFFF, 80..BF continue
      if (b >= 0xc2 && b <= 0xdf) return this.start(b & 0x1f, 1)
      if (b >= 0xe0 && b <= 0xef) return this.start(b & 0x0f, 2)
      if (b >= 0xf0 && b <= 0xf4) return this.start(b & 0x07, 3)
      return `ill-formed UTF-8 (byte 0x${b.toString(16)})`
    }
    if ((b & 0xc0) !== 0x80) return `ill-formed UTF-8 (byte 0x${b.toString(16)} inside a sequence)`
    this.codePoint = (this.codePoint << 6) | (b & 0x3f)
    return --this.need === 0 ? this.complete(this.codePoint, this.length) : -1
  }

  /** A string must not end inside a sequence */
  get partial (): boolean {
    return this.need > 0
  }

  private start (bits: number, continuation: number): number {
    this.codePoint = bits
    this.need = continuation
    this.length = continuation + 1
    return -1
  }

  private complete (cp: number, length: number): number | string {
    if ((length === 3 && cp < 0x800) || (length === 4 && cp < 0x10000)) return `an overlong UTF-8 form of ${hexCodePoint(cp)}`
    if (cp > 0x10ffff) return 'a code point above U+10FFFF'
    return forbiddenCodePoint(cp) ?? cp
  }
}

const SLASH = 0x2f
const PLUS = 0x2b
const HASH = 0x23

/**
 * Incremental MQTT 3.1.1 framing checker. Keeps O(1) state per connection: it never copies packet
 * bodies, it only remembers the few body bytes it must inspect (protocol name/level, packet identifier,
 * string length) and the state of the string it is reading.
 */
class FrameInspector {
  connectAccepted = false
  private connectSeen = false
  private phase: Phase = 'type'
  private type = 0
  private flags = 0
  private lengthValue = 0
  private lengthBytes = 0
  private remaining = 0
  private bodyOffset = 0
  private nextPeek = NO_PEEK
  private peekCount = 0
  private readonly peeked = Buffer.alloc(CONNECT_PEEK_BYTES)
  // Body parser state for the packets after CONNECT
  private field: Field = 'skip'
  private highByte = 0
  private stringLeft = 0
  private stringKind: StringKind = 'topic name'
  private readonly utf8 = new Utf8Check()
  /** The previous character of the current string (-1 at its start), for the wildcard rules */
  private previous = -1
  /** Topic filters read so far in this SUBSCRIBE/UNSUBSCRIBE */
  private filters = 0

  constructor (private readonly limits: StreamGuardLimits) {}

  /** Inspects one chunk; returns the first rejection, or the chunk offset where CONNECT ended (-1) */
  feed (chunk: Buffer): ChunkVerdict {
    let connectEnd = -1
    let i = 0
    while (i < chunk.length) {
      const wasAccepted = this.connectAccepted
      let r: GuardRejection | undefined
      if (this.phase === 'body') {
        const step = this.consumeBody(chunk, i)
        i += step.consumed
        r = step.rejection
      } else {
        r = this.phase === 'type' ? this.onTypeByte(chunk[i]) : this.onLengthByte(chunk[i])
        i++
      }
      if (r !== undefined) return { rejection: r }
      if (!wasAccepted && this.connectAccepted) connectEnd = i
    }
    return { connectEnd }
  }

  private get name (): string {
    return PACKET_NAMES[this.type]
  }

  private onTypeByte (byte: number): GuardRejection | undefined {
    this.type = byte >> 4
    this.flags = byte & 0x0f
    const r = this.checkType() ?? this.checkOrder() ?? this.checkDirection() ?? this.checkFlags()
    if (r !== undefined) return r
    if (this.type === CONNECT) this.connectSeen = true
    this.phase = 'length'
    this.lengthValue = 0
    this.lengthBytes = 0
    return undefined
  }

  private checkType (): GuardRejection | undefined {
    // 0 and 15 are reserved in 3.1.1 (section 2.2.1; 15 is AUTH in MQTT 5 only)
    if (this.type === 0 || this.type === 15) {
      return rejection('reserved-packet-type', `packet type ${this.type} is reserved`)
    }
    return undefined
  }

  private checkOrder (): GuardRejection | undefined {
    // [MQTT-3.1.0-1] the first packet from the client must be CONNECT
    if (!this.connectSeen && this.type !== CONNECT) {
      return rejection('first-packet-not-connect', `first packet is ${this.name}`)
    }
    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
    if (this.connectSeen && this.type === CONNECT) {
      return rejection('second-connect', 'second CONNECT on one connection')
    }
    return undefined
  }

  private checkDirection (): GuardRejection | undefined {
    // CONNACK, SUBACK, UNSUBACK and PINGRESP flow from server to client only (Table 2.1; sections 3.2,
    // 3.9, 3.11, 3.13): from a client they are a protocol violation, and the connection is closed [MQTT-4.8.0-1]
    if (this.type === CONNACK || this.type === SUBACK || this.type === UNSUBACK || this.type === PINGRESP) {
      return rejection('server-packet', `${this.name} is sent by the server only`)
    }
    return undefined
  }

  private checkFlags (): GuardRejection | undefined {
    if (this.type === PUBLISH) return this.checkPublishFlags()
    const required = REQUIRED_FLAGS.get(this.type)
    // [MQTT-2.2.2-1] [MQTT-2.2.2-2] flags fixed by Table 2.2 must match, else close
    // (for SUBSCRIBE [MQTT-3.8.1-1], UNSUBSCRIBE [MQTT-3.10.1-1], PUBREL [MQTT-3.6.1-1])
    if (required !== undefined && this.flags !== required) {
      return rejection('bad-fixed-header-flags',
        `${this.name} flags 0b${this.flags.toString(2).padStart(4, '0')}`)
    }
    return undefined
  }

  private checkPublishFlags (): GuardRejection | undefined {
    const qos = (this.flags >> 1) & 0b11
    const dup = (this.flags & 0b1000) !== 0
    // [MQTT-3.3.1-4] both QoS bits set is malformed
    if (qos === 3) return rejection('bad-publish-flags', 'PUBLISH QoS 3')
    // [MQTT-3.3.1-2] DUP must be 0 for QoS 0
    if (qos === 0 && dup) return rejection('bad-publish-flags', 'PUBLISH QoS 0 with DUP set')
    return undefined
  }

  private onLengthByte (byte: number): GuardRejection | undefined {
    // section 2.2.3: 7 bits per byte, least significant group first, continuation in bit 7
    this.lengthValue += (byte & 0x7f) * 128 ** this.lengthBytes
    this.lengthBytes++
    if ((byte & 0x80) !== 0) {
      return this.lengthBytes === MAX_LENGTH_BYTES
        ? rejection('malformed-length', 'remaining length longer than 4 bytes')
        : undefined
    }
    return this.startBody()
  }

  private startBody (): GuardRejection | undefined {
    const total = 1 + this.lengthBytes + this.lengthValue
    if (total > this.limits.maxPacketBytes) {
      return rejection('packet-too-large', `${this.name} of ${total} bytes exceeds ${this.limits.maxPacketBytes}`)
    }
    // Until CONNECT is complete, every byte received belongs to the CONNECT packet
    if (this.type === CONNECT && total > this.limits.maxBytesBeforeConnect) {
      return rejection('pre-connect-budget',
        `CONNECT of ${total} bytes exceeds the pre-CONNECT budget of ${this.limits.maxBytesBeforeConnect}`)
    }
    const r = this.checkFixedLength()
    if (r !== undefined) return r
    this.phase = 'body'
    this.remaining = this.lengthValue
    this.bodyOffset = 0
    this.peekCount = 0
    this.nextPeek = this.type === CONNECT ? 0 : NO_PEEK
    this.filters = 0
    this.field = this.firstField()
    return this.remaining === 0 ? this.completePacket() : undefined
  }

  /** The packets whose remaining length the spec fixes */
  private checkFixedLength (): GuardRejection | undefined {
    // PUBACK, PUBREC, PUBREL, PUBCOMP: "Remaining Length ... has the value 2" (sections 3.4.1, 3.5.1,
    // 3.6.1, 3.7.1); a longer one is not MQTT 3.1.1 (MQTT 5 reason codes), a shorter one has no identifier
    if (this.type >= PUBACK && this.type <= PUBCOMP && this.lengthValue !== 2) {
      return rejection('malformed-length', `${this.name} remaining length ${this.lengthValue}, must be 2`)
    }
    // PINGREQ and DISCONNECT have no variable header and no payload (sections 3.12.2-3, 3.14.2-3)
    if ((this.type === PINGREQ || this.type === DISCONNECT) && this.lengthValue !== 0) {
      return rejection('malformed-length', `${this.name} remaining length ${this.lengthValue}, must be 0`)
    }
    return undefined
  }

  private firstField (): Field {
    if (this.type === PUBLISH) return 'len-hi'
    if (this.type === SUBSCRIBE || this.type === UNSUBSCRIBE || (this.type >= PUBACK && this.type <= PUBCOMP)) return 'id-hi'
    return 'skip'
  }

  /** Skips body bytes in bulk, stopping only at the bytes the checks need */
  private consumeBody (chunk: Buffer, start: number): { consumed: number, rejection?: GuardRejection } {
    let i = start
    while (i < chunk.length && this.remaining > 0) {
      if (this.field !== 'skip') {
        const r = this.onFieldByte(chunk[i])
        if (r !== undefined) return { consumed: i + 1 - start, rejection: r }
        this.advanceBody(1)
        i++
      } else if (this.bodyOffset === this.nextPeek) {
        this.onPeekByte(chunk[i])
        this.advanceBody(1)
        i++
      } else {
        const skip = Math.max(1, Math.min(this.remaining, chunk.length - i, this.nextPeek - this.bodyOffset))
        this.advanceBody(skip)
        i += skip
      }
    }
    const r = this.remaining === 0 ? this.completePacket() : undefined
    return { consumed: i - start, rejection: r }
  }

  private advanceBody (n: number): void {
    this.bodyOffset += n
    this.remaining -= n
  }

  /** CONNECT: remembers the protocol name and level, checked once the packet is complete */
  private onPeekByte (byte: number): void {
    this.peeked[this.peekCount++] = byte
    this.nextPeek = this.peekCount < CONNECT_PEEK_BYTES ? this.peekCount : NO_PEEK
  }

  /** One byte of the variable header or payload of PUBLISH, SUBSCRIBE, UNSUBSCRIBE or an ack */
  private onFieldByte (byte: number): GuardRejection | undefined {
    switch (this.field) {
      case 'id-hi':
      case 'len-hi':
        this.highByte = byte
        this.field = this.field === 'id-hi' ? 'id-lo' : 'len-lo'
        return undefined
      case 'id-lo':
        return this.onPacketId((this.highByte << 8) | byte)
      case 'len-lo':
        return this.onStringLength((this.highByte << 8) | byte)
      case 'string':
        return this.onStringByte(byte)
      case 'options':
        return this.onSubscribeOptions(byte)
      case 'skip':
        return undefined
    }
  }

  private onPacketId (id: number): GuardRejection | undefined {
    if (id === 0) {
      // [MQTT-2.3.1-1] QoS 1/2 PUBLISH, SUBSCRIBE and UNSUBSCRIBE carry a non-zero packet identifier; an
      // acknowledgement repeats one, so 0 can acknowledge nothing (section 2.3.1)
      return this.type === PUBLISH
        ? rejection('publish-message-id-zero', `PUBLISH QoS ${this.publishQos()} with message id 0`)
        : rejection('message-id-zero', `${this.name} with packet identifier 0`)
    }
    this.field = this.type === SUBSCRIBE || this.type === UNSUBSCRIBE ? 'len-hi' : 'skip'
    return undefined
  }

  private onStringLength (length: number): GuardRejection | undefined {
    this.stringKind = this.type === PUBLISH ? 'topic name' : 'topic filter'
    // [MQTT-4.7.3-1] topic names and topic filters are at least one character long
    if (length === 0) return rejection('invalid-topic', `${this.name} with an empty ${this.stringKind}`)
    // After this byte: the string, then 2 bytes of packet identifier (QoS 1/2 PUBLISH) or 1 options
    // byte (SUBSCRIBE) must still fit in the packet (sections 1.5.3, 3.3.2, 3.8.3)
    const after = this.type === PUBLISH ? (this.publishQos() > 0 ? 2 : 0) : this.type === SUBSCRIBE ? 1 : 0
    if (length + after > this.remaining - 1) {
      return rejection('malformed-length', `${this.name} ${this.stringKind} of ${length} bytes does not fit in remaining length ${this.lengthValue}`)
    }
    this.stringLeft = length
    this.utf8.reset()
    this.previous = -1
    this.field = 'string'
    return undefined
  }

  private onStringByte (byte: number): GuardRejection | undefined {
    const decoded = this.utf8.byte(byte)
    if (typeof decoded === 'string') {
      // [MQTT-1.5.3-1] [MQTT-1.5.3-2] well-formed UTF-8, no surrogates, no U+0000 (controls and
      // noncharacters refused as Mosquitto does); for topics [MQTT-4.7.3-2]
      return rejection('invalid-string', `${this.name} ${this.stringKind} contains ${decoded}`)
    }
    if (decoded >= 0) {
      const r = this.checkWildcards(decoded)
      if (r !== undefined) return r
    }
    if (--this.stringLeft > 0) return undefined
    if (this.utf8.partial) {
      return rejection('invalid-string', `${this.name} ${this.stringKind} ends inside a UTF-8 sequence`)
    }
    if (this.type === SUBSCRIBE) {
      this.field = 'options'
    } else if (this.type === UNSUBSCRIBE) {
      this.filters++
      this.field = 'len-hi'
    } else {
      this.field = this.publishQos() > 0 ? 'id-hi' : 'skip'
    }
    return undefined
  }

  /** Wildcard rules, one character at a time (section 4.7.1) */
  private checkWildcards (c: number): GuardRejection | undefined {
    const bad = (why: string): GuardRejection => rejection('invalid-topic', `${this.name} ${this.stringKind}: ${why}`)
    if (this.stringKind === 'topic name') {
      // [MQTT-3.3.2-2] the topic name in a PUBLISH must not contain wildcard characters
      return c === PLUS || c === HASH ? bad(`wildcard ${String.fromCharCode(c)}`) : undefined
    }
    // [MQTT-4.7.1-2] '#' stands alone in the last level: nothing may follow it
    if (this.previous === HASH) return bad("'#' not last")
    // [MQTT-4.7.1-3] '+' occupies an entire level: only a separator may follow it
    if (this.previous === PLUS && c !== SLASH) return bad("'+' not alone in its level")
    // ... and a wildcard may only start a level
    const levelStart = this.previous === -1 || this.previous === SLASH
    if ((c === PLUS || c === HASH) && !levelStart) return bad(`'${String.fromCharCode(c)}' inside a level`)
    this.previous = c
    return undefined
  }

  private onSubscribeOptions (byte: number): GuardRejection | undefined {
    // [MQTT-3.8.3-4] reserved bits 7-2 must be 0 and the requested QoS 0, 1 or 2, else malformed
    if ((byte & 0xfc) !== 0 || (byte & 0x03) === 3) {
      return rejection('bad-subscribe-options', `SUBSCRIBE requested QoS byte 0x${byte.toString(16).padStart(2, '0')}`)
    }
    this.filters++
    this.field = 'len-hi'
    return undefined
  }

  private publishQos (): number {
    return (this.flags >> 1) & 0b11
  }

  /** Length prefix of the CONNECT protocol name */
  private leadingStringLength (): number {
    return this.peeked.readUInt16BE(0)
  }

  private completePacket (): GuardRejection | undefined {
    this.phase = 'type'
    if (this.type === CONNECT) return this.completeConnect()
    if (this.type === PUBLISH) return this.completePublish()
    if (this.type === SUBSCRIBE || this.type === UNSUBSCRIBE) return this.completeFilters()
    return undefined
  }

  private completePublish (): GuardRejection | undefined {
    // The variable header must fit inside the packet, or a parser reading past the end would take the
    // topic or message id from the next packet's bytes (section 3.3.2)
    if (this.field !== 'skip') {
      return rejection('malformed-length', `PUBLISH remaining length ${this.bodyOffset} too short for its variable header`)
    }
    return undefined
  }

  private completeFilters (): GuardRejection | undefined {
    // The packet must end on a filter boundary: after a filter's options byte (SUBSCRIBE) or its last
    // byte (UNSUBSCRIBE), never inside an identifier, a length, a filter or before the options byte
    if (this.field !== 'len-hi') {
      return rejection('malformed-length', `${this.name} remaining length ${this.bodyOffset} ends inside its ${this.field === 'id-hi' || this.field === 'id-lo' ? 'packet identifier' : 'topic filters'}`)
    }
    // [MQTT-3.8.3-3] SUBSCRIBE and [MQTT-3.10.3-2] UNSUBSCRIBE carry at least one topic filter
    if (this.filters === 0) return rejection('no-topic-filter', `${this.name} without a topic filter`)
    return undefined
  }

  private completeConnect (): GuardRejection | undefined {
    const r = this.checkProtocol()
    if (r === undefined) this.connectAccepted = true
    return r
  }

  private checkProtocol (): GuardRejection | undefined {
    if (this.peekCount < 2) {
      return rejection('malformed-length', `CONNECT remaining length ${this.bodyOffset} has no protocol name`)
    }
    const nameLength = this.leadingStringLength()
    if (nameLength > MAX_PROTOCOL_NAME_BYTES) {
      return rejection('unsupported-protocol', `protocol name of ${nameLength} bytes`)
    }
    const levelAt = 2 + nameLength
    if (this.peekCount <= levelAt) {
      return rejection('malformed-length', `CONNECT remaining length ${this.bodyOffset} has no protocol level`)
    }
    const name = this.peeked.toString('latin1', 2, levelAt)
    const level = this.peeked[levelAt]
    // [MQTT-3.1.2-1] protocol name, [MQTT-3.1.2-2] protocol level: refuse with CONNACK 0x01
    if (ACCEPTED_PROTOCOLS.get(name) !== level) {
      return rejection('unsupported-protocol', `protocol ${JSON.stringify(name)} level ${level} is not MQTT 3.1.1 or 3.1`)
    }
    return undefined
  }
}

/** The Duplex handed to Aedes: writes go to the socket, reads are the inspected socket bytes */
class GuardedStream extends Duplex {
  private readonly inspector: FrameInspector
  private held: Buffer[] = []
  private rejected = false
  private refusing = false
  private pausedSocket = false
  private deadline: NodeJS.Timeout | undefined
  private linger: NodeJS.Timeout | undefined

  constructor (
    private readonly socket: Duplex,
    private readonly limits: StreamGuardLimits,
    private readonly onReject?: (r: GuardRejection) => void
  ) {
    super({ allowHalfOpen: false })
    this.inspector = new FrameInspector(limits)
    socket.on('data', this.onSocketData)
    socket.on('end', this.onSocketEnd)
    socket.on('error', this.onSocketError)
    socket.on('close', this.onSocketClose)
    this.deadline = setTimeout(() => this.onDeadline(), limits.connectDeadlineMs)
    if (socket.destroyed) process.nextTick(() => this.onSocketClose())
  }

  get remoteAddress (): string | undefined {
    return (this.socket as { remoteAddress?: string }).remoteAddress
  }

  get remotePort (): number | undefined {
    return (this.socket as { remotePort?: number }).remotePort
  }

  /** The socket underneath, read-only: on TLS, its admitted client certificate (broker/client-certificates.ts). */
  get rawSocket (): Duplex {
    return this.socket
  }

  override _read (): void {
    if (this.pausedSocket) {
      this.pausedSocket = false
      this.socket.resume()
    }
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback)
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.socket.cork()
    for (let i = 0; i < chunks.length - 1; i++) this.socket.write(chunks[i].chunk)
    this.socket.write(chunks[chunks.length - 1].chunk, callback)
    this.socket.uncork()
  }

  override _final (callback: (error?: Error | null) => void): void {
    // The end callback also runs (with an error) if the socket is destroyed first; either way we are done
    this.socket.end(() => callback())
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    this.clearDeadline()
    this.held = []
    if (!this.refusing && !this.socket.destroyed) this.socket.destroy()
    callback(error)
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.rejected || this.destroyed) return
    try {
      this.inspectChunk(chunk)
    } catch (err) {
      // Never throw out of a stream callback: an unexpected fault closes this connection only
      this.destroy(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private inspectChunk (chunk: Buffer): void {
    const wasAccepted = this.inspector.connectAccepted
    const verdict = this.inspector.feed(chunk)
    if (verdict.rejection !== undefined) {
      this.reject(verdict.rejection)
    } else if (wasAccepted) {
      this.forward(chunk)
    } else if (verdict.connectEnd === -1) {
      this.held.push(chunk)
    } else {
      this.releaseConnect(chunk, verdict.connectEnd)
    }
  }

  /** CONNECT accepted: pass the held CONNECT bytes, then the rest of the chunk */
  private releaseConnect (chunk: Buffer, connectEnd: number): void {
    this.clearDeadline()
    this.held.push(chunk.subarray(0, connectEnd))
    const held = this.held
    this.held = []
    for (const piece of held) this.forward(piece)
    if (connectEnd < chunk.length) this.forward(chunk.subarray(connectEnd))
  }

  private forward (piece: Buffer): void {
    if (piece.length === 0) return
    if (!this.push(piece) && !this.pausedSocket) {
      this.pausedSocket = true
      this.socket.pause()
    }
  }

  private readonly onSocketEnd = (): void => {
    if (this.rejected || this.destroyed) return
    this.held = []
    this.push(null)
  }

  private readonly onSocketError = (error: Error): void => {
    this.destroy(error)
  }

  private readonly onSocketClose = (): void => {
    this.clearDeadline()
    if (this.linger !== undefined) clearTimeout(this.linger)
    this.linger = undefined
    this.socket.removeListener('data', this.onSocketData)
    this.socket.removeListener('end', this.onSocketEnd)
    this.socket.removeListener('close', this.onSocketClose)
    if (!this.destroyed) this.destroy()
  }

  private onDeadline (): void {
    this.deadline = undefined
    this.reject(rejection('connect-deadline', `no complete CONNECT within ${this.limits.connectDeadlineMs} ms`))
  }

  private clearDeadline (): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline)
    this.deadline = undefined
  }

  private reject (r: GuardRejection): void {
    if (this.rejected || this.destroyed) return
    this.rejected = true
    this.clearDeadline()
    this.held = []
    this.notify(r)
    if (r.code === 'unsupported-protocol') {
      this.refuseProtocol()
    } else {
      this.socket.destroy()
    }
    this.destroy()
  }

  private notify (r: GuardRejection): void {
    try {
      this.onReject?.(r)
    } catch {
      // a faulty listener must not keep the connection open or throw out of a stream callback
    }
  }

  /**
   * [MQTT-3.1.2-2] answer CONNACK 0x01 and close. The socket lingers (incoming bytes discarded) until the
   * client closes or a short timer fires, so the CONNACK is not lost to a reset caused by unread data.
   */
  private refuseProtocol (): void {
    this.refusing = true
    if (this.pausedSocket) this.socket.resume()
    this.socket.end(CONNACK_UNACCEPTABLE_PROTOCOL)
    const lingerMs = Math.min(this.limits.connectDeadlineMs, MAX_REFUSAL_LINGER_MS)
    this.linger = setTimeout(() => {
      this.linger = undefined
      this.socket.destroy()
    }, lingerMs)
  }
}

/**
 * Wraps an accepted socket for `aedes.handle()`. Bytes pass through unchanged until a framing rule is
 * broken; then `onReject` is called once and the socket is closed.
 */
export function guardStream (
  socket: Duplex,
  limits: StreamGuardLimits,
  onReject?: (r: GuardRejection) => void
): Duplex {
  return new GuardedStream(socket, limits, onReject)
}
