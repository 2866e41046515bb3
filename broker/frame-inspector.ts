// The stream guard's frame inspector: an incremental MQTT 3.1.1 framing checker over arbitrary chunking
// (broker/stream-guard.ts). Its state is a few numbers per connection: it never copies packet bodies, it
// only remembers the body bytes it must inspect (the CONNECT protocol name and level, a packet identifier,
// a string length) and the state of the topic string it is reading (broker/topic-string-check.ts). The
// rules of one fixed header and of the CONNECT protocol are broker/mqtt-packet-rules.ts.
import {
  checkConnectProtocol, checkFixedHeader, checkFixedLength, CONNECT, MAX_LENGTH_BYTES, MAX_PROTOCOL_NAME_BYTES,
  PACKET_NAMES, PUBACK, PUBCOMP, PUBLISH, publishQos, SUBSCRIBE, UNSUBSCRIBE
} from './mqtt-packet-rules.ts'
import { rejection, type GuardRejection, type StreamGuardLimits } from './stream-guard-policy.ts'
import { TopicStringCheck } from './topic-string-check.ts'

type Phase = 'type' | 'length' | 'body'

/**
 * Where the body parser of PUBLISH, SUBSCRIBE, UNSUBSCRIBE and the acknowledgements is: a packet
 * identifier byte, a string length byte, a string byte, a SUBSCRIBE options byte, or bytes nobody needs
 * to look at (the PUBLISH payload, CONNECT after its protocol level, PINGREQ and DISCONNECT have none).
 */
type Field = 'id-hi' | 'id-lo' | 'len-hi' | 'len-lo' | 'string' | 'options' | 'skip'

/** What one chunk did: a rejection, or where (if in this chunk) the CONNECT packet ended */
export type ChunkVerdict = { rejection: GuardRejection } | { rejection?: undefined, connectEnd: number }

const NO_PEEK = Number.POSITIVE_INFINITY

export class FrameInspector {
  connectAccepted = false
  private connectSeen = false
  private phase: Phase = 'type'
  private type = 0
  private flags = 0
  private lengthValue = 0
  private lengthBytes = 0
  private remaining = 0
  private bodyOffset = 0
  // What was read of the CONNECT variable header, as numbers (checkConnectProtocol)
  private nextPeek = NO_PEEK
  private peekCount = 0
  private protocolNameLength = 0
  private protocolName = 0
  private protocolLevel = 0
  // Body parser state for the packets after CONNECT
  private field: Field = 'skip'
  private highByte = 0
  private stringLeft = 0
  private readonly topic = new TopicStringCheck()
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
        r = this.phase === 'type' ? this.onTypeByte(chunk[i]!) : this.onLengthByte(chunk[i]!)
        i++
      }
      if (r !== undefined) return { rejection: r }
      if (!wasAccepted && this.connectAccepted) connectEnd = i
    }
    return { connectEnd }
  }

  private get name (): string {
    return PACKET_NAMES[this.type]!
  }

  private onTypeByte (byte: number): GuardRejection | undefined {
    this.type = byte >> 4
    this.flags = byte & 0x0f
    const r = checkFixedHeader(this.type, this.flags, this.connectSeen)
    if (r !== undefined) return r
    if (this.type === CONNECT) this.connectSeen = true
    this.phase = 'length'
    this.lengthValue = 0
    this.lengthBytes = 0
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
    const r = checkFixedLength(this.type, this.lengthValue)
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
        const r = this.onFieldByte(chunk[i]!)
        if (r !== undefined) return { consumed: i + 1 - start, rejection: r }
        this.advanceBody(1)
        i++
      } else if (this.bodyOffset === this.nextPeek) {
        this.onPeekByte(chunk[i]!)
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

  /** CONNECT: remembers the protocol name length, name and level, checked once the packet is complete */
  private onPeekByte (byte: number): void {
    const at = this.peekCount++
    if (at === 0) this.protocolNameLength = byte << 8
    else if (at === 1) {
      this.protocolNameLength |= byte
      this.protocolName = 0
    } else if (at < 2 + this.protocolNameLength) this.protocolName = this.protocolName * 256 + byte
    else this.protocolLevel = byte
    // Stop after the level byte, or at once for a name longer than any accepted one
    const done = at === 2 + this.protocolNameLength || (at === 1 && this.protocolNameLength > MAX_PROTOCOL_NAME_BYTES)
    this.nextPeek = done ? NO_PEEK : this.peekCount
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
        ? rejection('publish-message-id-zero', `PUBLISH QoS ${publishQos(this.flags)} with message id 0`)
        : rejection('message-id-zero', `${this.name} with packet identifier 0`)
    }
    this.field = this.type === SUBSCRIBE || this.type === UNSUBSCRIBE ? 'len-hi' : 'skip'
    return undefined
  }

  private onStringLength (length: number): GuardRejection | undefined {
    const kind = this.type === PUBLISH ? 'topic name' : 'topic filter'
    // [MQTT-4.7.3-1] topic names and topic filters are at least one character long
    if (length === 0) return rejection('invalid-topic', `${this.name} with an empty ${kind}`)
    // After this byte: the string, then 2 bytes of packet identifier (QoS 1/2 PUBLISH) or 1 options
    // byte (SUBSCRIBE) must still fit in the packet (sections 1.5.3, 3.3.2, 3.8.3)
    const after = this.type === PUBLISH ? (publishQos(this.flags) > 0 ? 2 : 0) : this.type === SUBSCRIBE ? 1 : 0
    if (length + after > this.remaining - 1) {
      return rejection('malformed-length', `${this.name} ${kind} of ${length} bytes does not fit in remaining length ${this.lengthValue}`)
    }
    this.stringLeft = length
    this.topic.start(kind)
    this.field = 'string'
    return undefined
  }

  private onStringByte (byte: number): GuardRejection | undefined {
    const r = this.topic.byte(byte, this.name)
    if (r !== undefined) return r
    if (--this.stringLeft > 0) return undefined
    if (this.topic.partial) {
      return rejection('invalid-string', `${this.name} ${this.topic.kind} ends inside a UTF-8 sequence`)
    }
    if (this.type === SUBSCRIBE) {
      this.field = 'options'
    } else if (this.type === UNSUBSCRIBE) {
      this.filters++
      this.field = 'len-hi'
    } else {
      this.field = publishQos(this.flags) > 0 ? 'id-hi' : 'skip'
    }
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
    const r = checkConnectProtocol(this.peekCount, this.protocolNameLength, this.protocolName, this.protocolLevel, this.bodyOffset)
    if (r === undefined) this.connectAccepted = true
    return r
  }
}
