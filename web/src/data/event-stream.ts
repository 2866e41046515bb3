import { ApiError, type ApiClient } from './api-client.ts'
import { hubEventTypes, type HubEvent, type HubEventType } from './types.ts'

export type StreamState = 'idle' | 'connecting' | 'open' | 'reconnecting'

type EventListener = (event: HubEvent) => void
type StateListener = (state: StreamState) => void

const minRetryMs = 500
const maxRetryMs = 15_000
/** The hub sends a `keep-alive` event every 15 s (server/routes/event-routes.ts); a stream silent for
 * twice that is taken as dead (a frozen hub, a half-open connection) and reconnected. */
export const KEEP_ALIVE_MS = 15_000
const silenceMs = 2 * KEEP_ALIVE_MS
const watchdogMs = 2_000

/**
 * The app's one connection to `GET /api/events`. It opens when the first
 * listener subscribes and closes when the last one leaves.
 *
 * Every connection needs a fresh single-use ticket (`POST /api/events/ticket`),
 * so the browser's own reconnect (which would reuse a spent ticket) is replaced
 * by ours: on error the EventSource is closed, a new ticket is fetched after a
 * backoff, and the stream is reopened with `lastEventId` so the hub can replay
 * what was missed (or send `resync`).
 *
 * Liveness: `live` is true only while the stream is open and has been heard from (an event or the
 * hub's keep-alive) within twice the keep-alive period; otherwise whatever the page shows of the
 * devices' state is stale, and `staleSince` says since when.
 */
export class EventStream {
  readonly #api: ApiClient
  readonly #listeners = new Set<EventListener>()
  readonly #stateListeners = new Set<StateListener>()
  #source: EventSource | null = null
  #state: StreamState = 'idle'
  #lastEventId: string | null = null
  #failures = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  /** Bumped on close so that a ticket request in flight is not used afterwards. */
  #generation = 0
  #lastHeard = 0
  #staleSince: number | null = null
  #watchdog: ReturnType<typeof setInterval> | undefined
  readonly #now: () => number

  constructor (api: ApiClient, now: () => number = Date.now) {
    this.#api = api
    this.#now = now
  }

  /** Open and heard from within twice the keep-alive period. */
  get live (): boolean {
    return this.#state === 'open'
  }

  /** Whether what the page shows of the devices' state may be out of date: the stream dropped (or
   * fell silent) and is not back yet. Not while idle (nothing on the page uses it) or first connecting. */
  get stale (): boolean {
    return this.#state === 'reconnecting'
  }

  /** When the stream stopped being live (null while live, or before it was ever opened). */
  get staleSince (): number | null {
    return this.#staleSince
  }

  get state (): StreamState {
    return this.#state
  }

  get lastEventId (): string | null {
    return this.#lastEventId
  }

  subscribe (listener: EventListener): () => void {
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) this.#open().catch(() => {})
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.close()
    }
  }

  onState (listener: StateListener): () => void {
    this.#stateListeners.add(listener)
    return () => { this.#stateListeners.delete(listener) }
  }

  close (): void {
    this.#generation++
    clearTimeout(this.#retryTimer)
    clearInterval(this.#watchdog)
    this.#watchdog = undefined
    this.#source?.close()
    this.#source = null
    this.#failures = 0
    this.#staleSince = null
    this.#setState('idle')
  }

  async #open (): Promise<void> {
    const generation = ++this.#generation
    this.#setState(this.#failures === 0 ? 'connecting' : 'reconnecting')
    let ticket: string
    try {
      ticket = (await this.#api.eventTicket()).ticket
    } catch (err) {
      if (generation !== this.#generation) return
      // 401: the session is gone and the app is going back to sign-in
      if (err instanceof ApiError && err.status === 401) return this.close()
      return this.#retry(generation)
    }
    if (generation !== this.#generation) return

    let url = `/api/events?ticket=${encodeURIComponent(ticket)}`
    if (this.#lastEventId !== null) url += `&lastEventId=${encodeURIComponent(this.#lastEventId)}`
    const source = new EventSource(url)
    this.#source = source
    source.onopen = () => {
      this.#failures = 0
      this.#lastHeard = this.#now()
      this.#staleSince = null
      this.#setState('open')
      clearInterval(this.#watchdog)
      this.#watchdog = setInterval(() => {
        if (this.#source === source && this.#now() - this.#lastHeard > silenceMs) drop()
      }, watchdogMs)
    }
    const drop = (): void => {
      if (this.#source !== source) return
      clearInterval(this.#watchdog)
      this.#watchdog = undefined
      source.close()
      this.#source = null
      this.#retry(generation)
    }
    source.onerror = drop
    const onEvent = (message: MessageEvent<string>) => this.#dispatch(message)
    for (const type of hubEventTypes) source.addEventListener(type, onEvent)
    source.addEventListener('keep-alive', () => { this.#lastHeard = this.#now() })
  }

  #retry (generation: number): void {
    this.#failures++
    this.#setState('reconnecting')
    const ceiling = Math.min(maxRetryMs, minRetryMs * 2 ** (this.#failures - 1))
    const delay = ceiling / 2 + Math.random() * ceiling / 2
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => {
      if (generation === this.#generation && this.#listeners.size > 0) this.#open().catch(() => {})
    }, delay)
  }

  #dispatch (message: MessageEvent<string>): void {
    this.#lastHeard = this.#now()
    if (message.lastEventId) this.#lastEventId = message.lastEventId
    let data: unknown
    try {
      data = message.data ? JSON.parse(message.data) : {}
    } catch {
      return
    }
    if (data === null || typeof data !== 'object') return
    const event = { type: message.type as HubEventType, id: message.lastEventId, data } as HubEvent
    for (const listener of this.#listeners) listener(event)
  }

  #setState (state: StreamState): void {
    if (state === this.#state) return
    if (this.#state === 'open' && state !== 'open') this.#staleSince = this.#now()
    this.#state = state
    for (const listener of this.#stateListeners) listener(state)
  }
}
