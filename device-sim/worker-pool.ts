// --workers N: the devices are split over N child processes (each with its own file-descriptor limit and,
// on loopback, its own source addresses and so its own ephemeral ports), each running a SimEngine. The
// pool merges their stats snapshots into one tick stream and one summary.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { isIPv4 } from 'node:net'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type { EngineEvents, EngineOptions, LoadRunner, StopReason } from './engine.ts'
import type { FleetDevice } from './fleet-file.ts'
import { makeSummary, makeTick } from './report.ts'
import type { RunSummary } from './report.ts'
import { mergeSnapshots, SimStats } from './sim-stats.ts'
import type { Counters, StatsSnapshot } from './sim-stats.ts'

export type ToWorker = { type: 'run', options: EngineOptions } | { type: 'stop', reason: StopReason }
export type FromWorker =
  | { type: 'started' }
  | { type: 'tick', snapshot: StatsSnapshot }
  | { type: 'done', snapshot: StatsSnapshot, states: FleetDevice[] }
  | { type: 'error', message: string }

/** Connections one source address is given before the next one is used (the ephemeral port range is
 * about 28,000 ports per address and destination). */
export const CONNECTIONS_PER_ADDRESS = 25_000

/**
 * Source addresses for each worker when the hub is on IPv4 loopback (Linux routes all of 127.0.0.0/8 to
 * lo): worker w gets 127.0.0.(1 + w), and one more address every CONNECTIONS_PER_ADDRESS devices.
 * Null elsewhere (a remote hub, IPv6, or a system where only 127.0.0.1 exists).
 */
export function loopbackSourceAddresses (mqttUrl: string, workers: number, devicesPerWorker: number, platform = process.platform): string[][] | null {
  let host: string
  try {
    host = new URL(mqttUrl).hostname
  } catch {
    return null
  }
  if (platform !== 'linux' || !isIPv4(host) || !host.startsWith('127.')) return null
  const perWorker = Math.max(1, Math.ceil(devicesPerWorker / CONNECTIONS_PER_ADDRESS))
  if (workers * perWorker > 254) return null
  return Array.from({ length: workers }, (_, w) => Array.from({ length: perWorker }, (_, k) => `127.0.0.${1 + w + k * workers}`))
}

interface Child { process: ChildProcess, snapshot: StatsSnapshot | null, states: FleetDevice[] | null, started: boolean, done: boolean, devices: FleetDevice[] }

export class WorkerPool extends EventEmitter<EngineEvents> implements LoadRunner {
  private readonly children: Child[] = []
  private stopReason: StopReason | null = null
  private readonly extraErrors: Record<string, number> = {}

  constructor (private readonly options: EngineOptions, private readonly workers: number, private readonly sourceAddresses: string[][] | null = null) {
    super()
  }

  stop (reason: StopReason = 'request'): void {
    this.stopReason ??= reason
    for (const child of this.children) {
      if (!child.done && child.process.connected) child.process.send({ type: 'stop', reason } satisfies ToWorker)
    }
  }

  states (): FleetDevice[] {
    return this.children.flatMap((c) => c.states ?? c.devices)
  }

  async run (): Promise<RunSummary> {
    const o = this.options
    const t0 = performance.now()
    const n = Math.max(1, Math.min(this.workers, o.devices.length))
    const size = Math.ceil(o.devices.length / n)
    const entry = fileURLToPath(new URL('./worker-entry.ts', import.meta.url))
    const tsx = import.meta.resolve('tsx')
    this.emit('start', { devices: o.devices.length, workers: n, mqttUrl: o.mqttUrl, startedAt: new Date().toISOString() })

    // --duration counts from when every worker runs its devices: starting a process (and compiling the
    // TypeScript) takes seconds on a loaded machine, and must not eat the run. Each worker's engine stops
    // itself after the duration; this timer only ends a worker that does not.
    let timer: NodeJS.Timeout | undefined
    const armDuration = () => {
      if (o.durationMs > 0 && timer === undefined && this.children.length === n && this.children.every((c) => c.started || c.done)) {
        timer = setTimeout(() => this.stop('duration'), o.durationMs + 250)
      }
    }
    const finished: Array<Promise<void>> = []
    for (let w = 0; w < n; w++) {
      const devices = o.devices.slice(w * size, (w + 1) * size)
      const proc = fork(entry, [], { execArgv: ['--import', tsx], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' })
      const child: Child = { process: proc, snapshot: null, states: null, started: false, done: false, devices }
      this.children.push(child)
      finished.push(new Promise<void>((resolve) => {
        proc.on('message', (message: FromWorker) => {
          if (message.type === 'started') {
            child.started = true
            armDuration()
          } else if (message.type === 'tick') child.snapshot = message.snapshot
          else if (message.type === 'done') {
            child.snapshot = message.snapshot
            child.states = message.states
            child.done = true
            proc.disconnect()
          } else if (message.type === 'error') {
            this.extraErrors['worker:' + message.message.slice(0, 60)] = (this.extraErrors['worker:' + message.message.slice(0, 60)] ?? 0) + 1
          }
        })
        proc.on('exit', (code) => {
          if (!child.done) {
            child.done = true
            armDuration()
            this.extraErrors[`worker-exit:${code ?? 'signal'}`] = (this.extraErrors[`worker-exit:${code ?? 'signal'}`] ?? 0) + 1
          }
          resolve()
        })
      }))
      const workerOptions: EngineOptions = {
        ...o,
        devices,
        connrate: o.connrate <= 0 ? 0 : o.connrate / n,
        ...(o.seed === undefined ? {} : { seed: o.seed + w }),
        ...(this.sourceAddresses === null ? {} : { sourceAddresses: this.sourceAddresses[w] })
      }
      proc.send({ type: 'run', options: workerOptions } satisfies ToWorker)
      if (this.stopReason !== null) proc.send({ type: 'stop', reason: this.stopReason } satisfies ToWorker)
    }

    let previous: Counters | null = null
    let lastTick = t0
    const ticker = setInterval(() => {
      const now = performance.now()
      const merged = this.merged()
      this.emit('tick', makeTick(merged, previous, now - lastTick, now - t0, o.devices.length))
      previous = merged.counters
      lastTick = now
    }, o.tickMs ?? 1000)
    armDuration()

    await Promise.all(finished)
    clearInterval(ticker)
    clearTimeout(timer)
    const durationMs = performance.now() - t0
    const summary = makeSummary(this.merged(), { devices: o.devices.length, workers: n, mqttUrl: o.mqttUrl, durationMs, stoppedBy: this.stopReason ?? 'duration' })
    this.emit('done', summary)
    return summary
  }

  private merged (): StatsSnapshot {
    const parts = this.children.map((c) => c.snapshot ?? emptySnapshot())
    const merged = mergeSnapshots(parts)
    for (const [k, v] of Object.entries(this.extraErrors)) merged.errors[k] = (merged.errors[k] ?? 0) + v
    return merged
  }
}

function emptySnapshot (): StatsSnapshot {
  const stats = new SimStats()
  try {
    return stats.snapshot()
  } finally {
    stats.destroy()
  }
}
