import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { AnchorSet, CheckInput, Inspection, Verdict } from './notification-check.ts'

/** A request as it crosses to a worker: every notification's bytes packed into one transferred buffer. */
export type WireRequest =
  | { id: number, kind: 'inspect', bytes: ArrayBuffer, ends: number[] }
  | { id: number, kind: 'check', bytes: ArrayBuffer, ends: number[], sets: AnchorSet[], items: Array<Omit<CheckInput, 'der'>> }
export interface WireReply { id: number, results: unknown[] }

type Task =
  | { kind: 'inspect', ders: readonly Uint8Array[] }
  | { kind: 'check', ders: readonly Uint8Array[], sets: AnchorSet[], items: Array<Omit<CheckInput, 'der'>> }

interface Request { id: number, task: Task, attempts: number, resolve (results: unknown[]): void, reject (err: Error): void }
interface Slot { worker: Worker, pending: Map<number, Request>, failure: Error | null }

/** Attempts of one request on a fresh worker before it fails (a worker that dies on the same bytes again). */
const MAX_ATTEMPTS = 3
/** Below this many notifications a request is not split across workers. */
const MIN_CHUNK = 16
const ENTRY = new URL('./verify-worker-entry.js', import.meta.url)

export interface VerifyPoolOptions {
  /** Worker threads (default: the cores, `os.availableParallelism()`). */
  size?: number
  /** The worker's module (tests start one that fails on purpose). */
  entry?: URL
  workerData?: unknown
}

/** The notification pipeline's verification off the event loop: worker threads that decode, hash and
 * verify (signature and GSMA chain, `notification-check.ts`) one batch at a time, split across them.
 * Workers start on first use. One that dies is replaced and its part of the batch sent again, so every
 * request is answered exactly once: by the first reply, or after MAX_ATTEMPTS deaths by an error. */
export class VerifyPool {
  readonly size: number
  private readonly slots: Slot[] = []
  private nextId = 1
  private closed = false
  private readonly entry: URL
  private readonly workerData: unknown
  /** Workers that died and were replaced (for the metrics and the tests). */
  restarts = 0

  constructor (options: VerifyPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? availableParallelism())
    this.entry = options.entry ?? ENTRY
    this.workerData = options.workerData
  }

  async inspect (ders: readonly Uint8Array[]): Promise<Inspection[]> {
    const parts = await Promise.all(this.chunks(ders.length).map(([a, b]) => this.request({ kind: 'inspect', ders: ders.slice(a, b) })))
    return parts.flat() as Inspection[]
  }

  async check (sets: AnchorSet[], inputs: readonly CheckInput[]): Promise<Verdict[]> {
    const parts = await Promise.all(this.chunks(inputs.length).map(([a, b]) => {
      const slice = inputs.slice(a, b)
      return this.request({ kind: 'check', ders: slice.map((i) => i.der), sets, items: slice.map(({ der, ...rest }) => rest) })
    }))
    return parts.flat() as Verdict[]
  }

  /** Ends every worker. The pipeline has drained by then; a request still open fails. */
  async close (): Promise<void> {
    this.closed = true
    const slots = this.slots.splice(0)
    await Promise.all(slots.map(async (slot) => {
      for (const r of slot.pending.values()) r.reject(new Error('the verify pool closed'))
      slot.pending.clear()
      await slot.worker.terminate()
    }))
  }

  private chunks (n: number): Array<[number, number]> {
    const parts = Math.max(1, Math.min(this.size, Math.floor(n / MIN_CHUNK)))
    const size = Math.ceil(n / parts)
    const out: Array<[number, number]> = []
    for (let a = 0; a < n; a += size) out.push([a, Math.min(n, a + size)])
    return out
  }

  private request (task: Task): Promise<unknown[]> {
    if (task.ders.length === 0) return Promise.resolve([])
    return new Promise((resolve, reject) => {
      this.dispatch({ id: this.nextId++, task, attempts: 0, resolve, reject })
    })
  }

  private dispatch (request: Request): void {
    if (this.closed) {
      request.reject(new Error('the verify pool is closed'))
      return
    }
    request.attempts++
    const slot = this.pick()
    slot.pending.set(request.id, request)
    if (slot.pending.size === 1) slot.worker.ref()
    // Packed anew for each attempt: a transferred buffer is gone from this thread.
    const total = request.task.ders.reduce((sum, d) => sum + d.byteLength, 0)
    const bytes = new Uint8Array(total)
    const ends: number[] = []
    let at = 0
    for (const der of request.task.ders) {
      bytes.set(der, at)
      ends.push(at += der.byteLength)
    }
    const { task } = request
    const wire: WireRequest = task.kind === 'inspect'
      ? { id: request.id, kind: 'inspect', bytes: bytes.buffer, ends }
      : { id: request.id, kind: 'check', bytes: bytes.buffer, ends, sets: task.sets, items: task.items }
    slot.worker.postMessage(wire, [bytes.buffer])
  }

  /** The worker with the fewest open requests; a new one while the pool is below its size. */
  private pick (): Slot {
    const idle = this.slots.find((s) => s.pending.size === 0)
    if (idle !== undefined) return idle
    if (this.slots.length < this.size) return this.spawn()
    return this.slots.reduce((a, b) => b.pending.size < a.pending.size ? b : a)
  }

  private spawn (): Slot {
    const worker = new Worker(this.entry, { workerData: this.workerData })
    const slot: Slot = { worker, pending: new Map(), failure: null }
    worker.unref()
    worker.on('message', (reply: WireReply) => {
      const request = slot.pending.get(reply.id)
      if (request === undefined) return // answered once already (cannot happen: ids are not reused)
      slot.pending.delete(reply.id)
      if (slot.pending.size === 0) worker.unref()
      request.resolve(reply.results)
    })
    worker.on('error', (err) => { slot.failure = err })
    worker.once('exit', (code) => { this.replace(slot, code) })
    this.slots.push(slot)
    return slot
  }

  /** A worker ended without being asked to: its open requests go to a new one, up to MAX_ATTEMPTS each. */
  private replace (slot: Slot, code: number): void {
    const at = this.slots.indexOf(slot)
    if (at < 0) return // closed by close()
    this.slots.splice(at, 1)
    this.restarts++
    const cause = slot.failure ?? new Error(`a verify worker exited with code ${code}`)
    const open = [...slot.pending.values()]
    slot.pending.clear()
    for (const request of open) {
      if (request.attempts >= MAX_ATTEMPTS) request.reject(new Error(`verification failed ${MAX_ATTEMPTS} times: ${cause.message}`))
      else this.dispatch(request)
    }
  }
}
