// The stream guard's guarded stream (broker/stream-guard.ts): the Duplex handed to `aedes.handle()` in
// place of the accepted socket. Socket bytes go through the frame inspector (broker/frame-inspector.ts) and
// are passed on unchanged, chunk by chunk; only the CONNECT packet is held back (bounded by the pre-CONNECT
// budget) so that Aedes never sees a CONNECT the hub refuses. On a rejection the socket is closed, or, for
// another protocol, answered CONNACK 0x01 first.
import { Duplex } from 'node:stream'
import { FrameInspector } from './frame-inspector.ts'
import { rejection, type GuardRejection, type StreamGuardLimits } from './stream-guard-policy.ts'

/** CONNACK, return code 0x01 "unacceptable protocol version" [MQTT-3.1.2-2] */
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])

/** Upper bound on how long a refused connection lingers so the CONNACK is read before the close */
const MAX_REFUSAL_LINGER_MS = 2_000

/** The Duplex handed to Aedes: writes go to the socket, reads are the inspected socket bytes */
export class GuardedStream extends Duplex {
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
