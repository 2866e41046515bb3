// Stream guard: sits between an accepted socket and `aedes.handle(stream)`.
//
// Aedes 1.2.0 buffers whatever packet length a client claims and has no byte budget or deadline before
// CONNECT (RELIABILITY.md A.1-A.4, B.8, B.9, C.21). The guard tracks MQTT packet boundaries incrementally
// over arbitrary chunking and closes the connection as soon as a framing rule is broken. Bytes are passed
// through unchanged, chunk by chunk; only the CONNECT packet is held back (bounded by the pre-CONNECT
// budget) so that Aedes never sees a CONNECT the hub refuses. Spec references are to MQTT 3.1.1.
import { Duplex } from 'node:stream'

export interface StreamGuardLimits {
  /** whole packet (fixed header + remaining length) larger than this → close */
  maxPacketBytes: number
  /** bytes received before a complete CONNECT larger than this → close */
  maxBytesBeforeConnect: number
  /** the CONNECT packet must be complete within this many ms of guardStream() → close */
  connectDeadlineMs: number
}

export const defaultStreamGuardLimits: StreamGuardLimits = Object.freeze({
  maxPacketBytes: 256 * 1024,
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

export interface GuardRejection { code: GuardRejectionCode; detail: string }

const CONNECT = 1
const PUBLISH = 3

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

/** What one chunk did: a rejection, or where (if in this chunk) the CONNECT packet ended */
type ChunkVerdict = { rejection: GuardRejection } | { rejection?: undefined, connectEnd: number }

function rejection (code: GuardRejectionCode, detail: string): GuardRejection {
  return { code, detail }
}

/**
 * Incremental MQTT 3.1.1 framing checker. Keeps O(1) state per connection: it never copies packet
 * bodies, it only remembers the few body bytes it must inspect (protocol name/level, topic length,
 * message id).
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

  private onTypeByte (byte: number): GuardRejection | undefined {
    this.type = byte >> 4
    this.flags = byte & 0x0f
    const r = this.checkType() ?? this.checkOrder() ?? this.checkFlags()
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
    const name = PACKET_NAMES[this.type]
    // [MQTT-3.1.0-1] the first packet from the client must be CONNECT
    if (!this.connectSeen && this.type !== CONNECT) {
      return rejection('first-packet-not-connect', `first packet is ${name}`)
    }
    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
    if (this.connectSeen && this.type === CONNECT) {
      return rejection('second-connect', 'second CONNECT on one connection')
    }
    return undefined
  }

  private checkFlags (): GuardRejection | undefined {
    if (this.type === PUBLISH) return this.checkPublishFlags()
    const required = REQUIRED_FLAGS.get(this.type)
    // [MQTT-2.2.2-1] [MQTT-2.2.2-2] flags fixed by Table 2.2 must match, else close
    if (required !== undefined && this.flags !== required) {
      return rejection('bad-fixed-header-flags',
        `${PACKET_NAMES[this.type]} flags 0b${this.flags.toString(2).padStart(4, '0')}`)
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
    const name = PACKET_NAMES[this.type]
    if (total > this.limits.maxPacketBytes) {
      return rejection('packet-too-large', `${name} of ${total} bytes exceeds ${this.limits.maxPacketBytes}`)
    }
    // Until CONNECT is complete, every byte received belongs to the CONNECT packet
    if (this.type === CONNECT && total > this.limits.maxBytesBeforeConnect) {
      return rejection('pre-connect-budget',
        `CONNECT of ${total} bytes exceeds the pre-CONNECT budget of ${this.limits.maxBytesBeforeConnect}`)
    }
    this.phase = 'body'
    this.remaining = this.lengthValue
    this.bodyOffset = 0
    this.peekCount = 0
    this.nextPeek = this.nextPeekOffset()
    return this.remaining === 0 ? this.completePacket() : undefined
  }

  /** Skips body bytes in bulk, stopping only at the offsets the checks need */
  private consumeBody (chunk: Buffer, start: number): { consumed: number, rejection?: GuardRejection } {
    let i = start
    while (i < chunk.length && this.remaining > 0) {
      if (this.bodyOffset === this.nextPeek) {
        const r = this.onPeekByte(chunk[i])
        if (r !== undefined) return { consumed: i + 1 - start, rejection: r }
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

  private onPeekByte (byte: number): GuardRejection | undefined {
    this.peeked[this.peekCount++] = byte
    this.nextPeek = this.nextPeekOffset()
    if (this.type === PUBLISH && this.peekCount === 4) return this.checkMessageId()
    return undefined
  }

  /** Body offset of the next byte to inspect: CONNECT protocol name/level, PUBLISH topic length/id */
  private nextPeekOffset (): number {
    if (this.type === CONNECT) {
      return this.peekCount < CONNECT_PEEK_BYTES ? this.peekCount : NO_PEEK
    }
    if (this.type === PUBLISH) {
      const wanted = this.publishQos() > 0 ? 4 : 2
      if (this.peekCount >= wanted) return NO_PEEK
      return this.peekCount < 2 ? this.peekCount : this.leadingStringLength() + this.peekCount
    }
    return NO_PEEK
  }

  private publishQos (): number {
    return (this.flags >> 1) & 0b11
  }

  /** Length prefix of the first string in the variable header: PUBLISH topic, CONNECT protocol name */
  private leadingStringLength (): number {
    return this.peeked.readUInt16BE(0)
  }

  private checkMessageId (): GuardRejection | undefined {
    // [MQTT-2.3.1-1] QoS 1/2 PUBLISH must carry a non-zero packet identifier
    if (this.peeked.readUInt16BE(2) === 0) {
      return rejection('publish-message-id-zero', `PUBLISH QoS ${this.publishQos()} with message id 0`)
    }
    return undefined
  }

  private completePacket (): GuardRejection | undefined {
    this.phase = 'type'
    if (this.type === CONNECT) return this.completeConnect()
    if (this.type === PUBLISH) return this.completePublish()
    return undefined
  }

  private completePublish (): GuardRejection | undefined {
    // The variable header must fit inside the packet, or a parser reading past the end would take the
    // topic or message id from the next packet's bytes (section 3.3.2)
    const needed = this.publishQos() > 0 ? 4 : 2
    if (this.peekCount < needed || (needed === 2 && this.bodyOffset < 2 + this.leadingStringLength())) {
      return rejection('malformed-length', `PUBLISH remaining length ${this.bodyOffset} too short for its variable header`)
    }
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
