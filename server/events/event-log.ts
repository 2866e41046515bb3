import { randomBytes } from 'node:crypto'
import type { HubEvent } from '../../protocol/events.ts'

export interface LoggedEvent { id: number, event: HubEvent }

/** The recent events of this instance, numbered, so an SSE client that reconnects with Last-Event-ID
 * gets what it missed. Past the window (or after a restart) the client is told to resync instead. */
export class EventLog {
  private readonly ring: Array<LoggedEvent | undefined>
  private nextId = 1
  private readonly listeners = new Set<(entry: LoggedEvent) => void>()
  private readonly resyncListeners = new Set<() => void>()
  /** Ids restart with the process; the epoch prefix makes an id from an earlier run, from another
   * process, or from before a gap (`restart`) unmistakable. */
  private epoch = newEpoch()

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

  /** Events may have been missed (the bus says so): ids from before are refused from now on, and every
   * open stream is told to resync. */
  restart (): void {
    this.epoch = newEpoch()
    for (const listener of this.resyncListeners) listener()
  }

  onRestart (listener: () => void): () => void {
    this.resyncListeners.add(listener)
    return () => { this.resyncListeners.delete(listener) }
  }

  subscribe (listener: (entry: LoggedEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }
}

function newEpoch (): string {
  return Date.now().toString(36) + randomBytes(4).readUInt32BE().toString(36)
}
