import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { EventStream, StreamState } from './event-stream.ts'

/** Re-renders its host when the event stream connects, drops or reconnects. */
export class StreamStateController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #getStream: () => EventStream | undefined
  #stream: EventStream | undefined
  #off: (() => void) | null = null
  #connected = false

  constructor (host: ReactiveControllerHost, getStream: () => EventStream | undefined) {
    this.#host = host
    this.#getStream = getStream
    host.addController(this)
  }

  get state (): StreamState {
    return this.#getStream()?.state ?? 'idle'
  }

  hostConnected (): void {
    this.#connected = true
    this.#attach()
  }

  hostUpdate (): void {
    if (this.#connected) this.#attach()
  }

  hostDisconnected (): void {
    this.#connected = false
    this.#off?.()
    this.#off = null
    this.#stream = undefined
  }

  #attach (): void {
    const stream = this.#getStream()
    if (stream === this.#stream) return
    this.#off?.()
    this.#stream = stream
    this.#off = stream ? stream.onState(() => this.#host.requestUpdate()) : null
  }
}
