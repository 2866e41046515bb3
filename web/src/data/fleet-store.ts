import { ApiError, type ApiClient } from './api-client.ts'
import type { EventStream } from './event-stream.ts'
import { applyPatch, type Patch } from './device-patch.ts'
import { collectEvent } from './fleet-events.ts'
import type { Device, FleetSummary, HubEvent } from './types.ts'

export interface LoadProgress {
  loaded: number
  done: boolean
  error: string | null
}

const pageSize = 500

/**
 * The live fleet: every device of the tenant by id, kept current by the SSE
 * stream. Events are coalesced per device and applied once per animation frame,
 * so a burst of telemetry for 100,000 devices costs one render, and a hidden
 * tab holds at most one pending patch per device.
 *
 * `ids` is a new array only when devices are added or removed; telemetry and
 * status changes replace the device object in the map and bump `version`.
 * How events become per-device patches is fleet-events.ts, how a patch changes
 * a device is device-patch.ts.
 */
export class FleetStore {
  readonly #api: ApiClient
  readonly #stream: EventStream
  #byId = new Map<string, Device>()
  #ids: readonly string[] = []
  #serverSummary: FleetSummary | null = null
  #online = 0
  #progress: LoadProgress = { loaded: 0, done: false, error: null }

  /** Bumped on every change that listeners should render. */
  version = 0
  /** Bumped when `ids` changes. */
  membershipVersion = 0
  /** Bumped when any device's status changes. */
  statusVersion = 0

  readonly #listeners = new Set<() => void>()
  #pending = new Map<string, Patch>()
  #frame = 0
  #loading: AbortController | null = null
  #retainers = 0
  #unsubscribe: (() => void) | null = null

  constructor (api: ApiClient, stream: EventStream) {
    this.#api = api
    this.#stream = stream
  }

  get ids (): readonly string[] {
    return this.#ids
  }

  get (id: string): Device | undefined {
    return this.#byId.get(id)
  }

  get progress (): LoadProgress {
    return this.#progress
  }

  /** From the loaded list once it is complete, from `/api/fleet/summary` before. */
  get summary (): FleetSummary | null {
    if (this.#progress.done) {
      return { total: this.#byId.size, online: this.#online, offline: this.#byId.size - this.#online }
    }
    return this.#serverSummary
  }

  subscribe (listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Keeps the store live while at least one holder retains it: the first
   * retain subscribes to the event stream and loads the list, the last release
   * unsubscribes and stops loading.
   */
  retain (): () => void {
    if (this.#retainers++ === 0) this.#start()
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.#retainers === 0) this.#stop()
    }
  }

  /** Reloads the whole list (SSE `resync`, or the user's retry after an error). */
  reload (): void {
    // events received so far are older than the list about to be loaded
    this.#pending.clear()
    this.#load().catch(() => {})
  }

  #start (): void {
    // subscribe before loading, so nothing that happens during the load is missed
    this.#unsubscribe = this.#stream.subscribe(event => this.#onEvent(event))
    this.#load().catch(() => {})
  }

  #stop (): void {
    this.#unsubscribe?.()
    this.#unsubscribe = null
    this.#loading?.abort()
    this.#loading = null
    cancelAnimationFrame(this.#frame)
    this.#frame = 0
    this.#pending.clear()
  }

  async #load (): Promise<void> {
    this.#loading?.abort()
    const controller = new AbortController()
    this.#loading = controller
    const { signal } = controller
    // the first load shows each page as it arrives (no event is applied while
    // loading, so the map can be shared); a reload swaps in the new list at the end
    const progressive = this.#byId.size === 0
    const byId = new Map<string, Device>()
    const ids: string[] = []
    if (progressive) this.#byId = byId
    this.#progress = { loaded: 0, done: false, error: null }
    this.#notify()

    this.#api.fleetSummary(signal).then(summary => {
      this.#serverSummary = summary
      this.#notify()
    }, () => {})

    try {
      let cursor: string | null = null
      do {
        const page = await this.#api.listDevices({ limit: pageSize, cursor }, signal)
        if (signal.aborted) return
        for (const device of page.items) {
          if (!byId.has(device.id)) ids.push(device.id)
          byId.set(device.id, device)
        }
        cursor = page.nextCursor
        this.#progress = { loaded: ids.length, done: false, error: null }
        if (progressive) {
          this.#ids = ids.slice()
          this.membershipVersion++
          this.statusVersion++
        }
        this.#notify()
      } while (cursor)
    } catch (err) {
      if (signal.aborted) return
      this.#progress = { loaded: ids.length, done: false, error: err instanceof ApiError ? err.message : 'Loading the devices failed' }
      this.#loading = null
      this.#flush()
      return
    }
    this.#byId = byId
    this.#ids = ids
    let online = 0
    for (const device of byId.values()) if (device.status === 'online') online++
    this.#online = online
    this.membershipVersion++
    this.statusVersion++
    this.#loading = null
    this.#progress = { loaded: ids.length, done: true, error: null }
    // apply what arrived while loading
    this.#flush()
  }

  #onEvent (event: HubEvent): void {
    const changed = collectEvent(this.#pending, event)
    if (changed === 'resync') this.reload()
    else if (changed) this.#schedule()
  }

  #schedule (): void {
    if (this.#frame !== 0 || this.#loading) return
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0
      this.#flush()
    })
  }

  #flush (): void {
    if (this.#loading) return
    const pending = this.#pending
    if (pending.size === 0) {
      this.#notify()
      return
    }
    this.#pending = new Map()
    const removed = new Set<string>()
    const added: string[] = []
    let statusChanged = false

    for (const [id, patch] of pending) {
      const existing = this.#byId.get(id)
      if (patch.deleted) {
        if (existing) {
          if (existing.status === 'online') this.#online--
          this.#byId.delete(id)
          removed.add(id)
        }
        continue
      }
      const device = applyPatch(existing, patch)
      if (!device) continue // an event for a device this user cannot see, or one already deleted
      if (!existing) {
        added.push(id)
        if (device.status === 'online') this.#online++
        statusChanged = true
      } else if (existing.status !== device.status) {
        this.#online += device.status === 'online' ? 1 : -1
        statusChanged = true
      }
      this.#byId.set(id, device)
    }

    if (removed.size > 0 || added.length > 0) {
      const ids = removed.size > 0 ? this.#ids.filter(id => !removed.has(id)) : this.#ids.slice()
      for (const id of added) if (!removed.has(id)) ids.push(id)
      this.#ids = ids
      this.membershipVersion++
    }
    if (statusChanged || removed.size > 0) this.statusVersion++
    this.#notify()
  }

  #notify (): void {
    this.version++
    for (const listener of this.#listeners) listener()
  }
}
