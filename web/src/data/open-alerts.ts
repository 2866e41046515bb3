import type { ApiClient } from './api-client.ts'
import type { Alert } from './console-types.ts'
import type { EventStream } from './event-stream.ts'

const LIMIT = 1000

/**
 * How many of the tenant's alerts are open, for the header: one `GET /api/alerts?state=open`, then kept
 * by the `alert.*` events of the app's stream (a `resync` loads again). Events that arrive while a load
 * is in flight are applied over its answer, so none is lost.
 */
export class OpenAlerts {
  readonly #api: ApiClient
  readonly #changed: () => void
  readonly #release: () => void
  #ids = new Set<string>()
  /** More than LIMIT are open (the count shown is a floor). */
  more = false
  #during: Alert[] | null = null

  constructor (api: ApiClient, stream: EventStream, changed: () => void) {
    this.#api = api
    this.#changed = changed
    this.#release = stream.subscribe(event => {
      if (event.type === 'resync') this.#load()
      else if (event.type.startsWith('alert.')) this.#apply(event.data as Alert)
    })
    this.#load()
  }

  get count (): number {
    return this.#ids.size
  }

  close (): void {
    this.#release()
  }

  #apply (alert: Alert): void {
    this.#during?.push(alert)
    if (alert.state === 'open') this.#ids.add(alert.id)
    else this.#ids.delete(alert.id)
    this.#changed()
  }

  #load (): void {
    const during: Alert[] = this.#during = []
    this.#api.request<{ items: Alert[], nextCursor: string | null }>('GET', '/api/alerts', { query: { state: 'open', limit: LIMIT } }).then(answer => {
      if (during !== this.#during) return
      this.#during = null
      this.#ids = new Set(answer.items.map(a => a.id))
      this.more = answer.nextCursor !== null
      for (const alert of during) this.#apply(alert)
      this.#changed()
    }, () => { if (during === this.#during) this.#during = null })
  }
}
