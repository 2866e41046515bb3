import type { ReactiveController, ReactiveControllerHost } from 'lit'

/**
 * Keeps its host subscribed to a source that the host gets from a property
 * (often through context, so it can arrive after the host connected): opens the
 * subscription while the host is connected, moves it when the source changes,
 * and releases it when the host disconnects. `subscribe` returns its release.
 */
export class SourceController<S> implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #getSource: () => S | undefined
  readonly #subscribe: (source: S, changed: () => void) => () => void
  #source: S | undefined
  #release: (() => void) | null = null
  #connected = false

  constructor (host: ReactiveControllerHost, getSource: () => S | undefined, subscribe: (source: S, changed: () => void) => () => void) {
    this.#host = host
    this.#getSource = getSource
    this.#subscribe = subscribe
    host.addController(this)
  }

  /** The host's current source (the one it is subscribed to from its next update on). */
  get source (): S | undefined {
    return this.#getSource()
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
    this.#detach()
  }

  #attach (): void {
    const source = this.#getSource()
    if (source === this.#source) return
    this.#detach()
    this.#source = source
    if (source !== undefined) this.#release = this.#subscribe(source, () => this.#host.requestUpdate())
  }

  #detach (): void {
    this.#release?.()
    this.#release = null
    this.#source = undefined
  }
}
