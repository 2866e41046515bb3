import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { FleetStore } from './fleet-store.ts'

/**
 * Keeps its host rendering the live fleet: retains the store (which keeps the
 * list loaded and the event stream open) while the host is connected, and
 * requests an update whenever the store changes.
 */
export class FleetController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  readonly #getStore: () => FleetStore | undefined
  #store: FleetStore | undefined
  #release: (() => void) | null = null
  #connected = false

  constructor (host: ReactiveControllerHost, getStore: () => FleetStore | undefined) {
    this.#host = host
    this.#getStore = getStore
    host.addController(this)
  }

  /** The host's current store (the one it is subscribed to from its next update on). */
  get store (): FleetStore | undefined {
    return this.#getStore()
  }

  hostConnected (): void {
    this.#connected = true
    this.#attach()
  }

  /** The store can arrive (through context) after the host connected. */
  hostUpdate (): void {
    if (this.#connected) this.#attach()
  }

  hostDisconnected (): void {
    this.#connected = false
    this.#detach()
  }

  #attach (): void {
    const store = this.#getStore()
    if (store === this.#store) return
    this.#detach()
    this.#store = store
    if (!store) return
    const unsubscribe = store.subscribe(() => this.#host.requestUpdate())
    const release = store.retain()
    this.#release = () => {
      unsubscribe()
      release()
    }
  }

  #detach (): void {
    this.#release?.()
    this.#release = null
    this.#store = undefined
  }
}
