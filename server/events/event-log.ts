import type { HubEvent } from '../../protocol/events.ts'

export interface LoggedEvent { id: number, event: HubEvent }

/** The recent events of this instance, numbered, so an SSE client that reconnects with Last-Event-ID
 * gets what it missed. Past the window (or after a restart) the client is told to resync instead. */
export class EventLog {
  private readonly ring: Array<LoggedEvent | undefined>
  private nextId = 1
  private readonly listeners = new Set<(entry: LoggedEvent) => void>()
  /** Ids restart with the process; the epoch prefix makes an id from an earlier run unmistakable. */
  readonly epoch = Date.now().toString(36)

  constructor (private readonly capacity = 10_000) {
    this.ring = new Array<LoggedEvent | undefined>(capacity)
  }

  append (event: HubEvent): void {
    const entry = { id: this.nextId++, event }
    this.ring[entry.id % this.capacity] = entry
    for (const listener of this.listeners) listener(entry)
  }

  /** The id of the newest event (0 before the first). */
  get lastId (): number {
    return this.nextId - 1
  }

  formatId (id: number): string {
    return `${this.epoch}-${id}`
  }

  /** Events after `lastEventId`, or null when they are no longer (or never were) in the window. */
  since (lastEventId: string): LoggedEvent[] | null {
    const match = /^([0-9a-z]+)-(\d+)$/.exec(lastEventId)
    if (match === null || match[1] !== this.epoch) return null
    const last = Number(match[2])
    if (last >= this.nextId) return null
    const oldest = Math.max(1, this.nextId - this.capacity)
    if (last + 1 < oldest) return null
    const missed: LoggedEvent[] = []
    for (let id = last + 1; id < this.nextId; id++) missed.push(this.ring[id % this.capacity] as LoggedEvent)
    return missed
  }

  subscribe (listener: (entry: LoggedEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }
}
