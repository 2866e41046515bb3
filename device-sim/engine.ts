// The load engine: runs a set of simulated devices in this process, starting them at --connrate, and
// reports through events: `start`, a `tick` every second, `done` with the summary. The CLI and the worker
// processes are thin wrappers around it.
import { createPublicKey } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { carrierByKey, CARRIERS } from './carriers.ts'
import type { Carrier } from './carriers.ts'
import type { EimTrust } from './eim-package.ts'
import type { Faults } from './faults.ts'
import type { EimIdentity, FleetDevice } from './fleet-file.ts'
import { Random } from './random.ts'
import { makeSummary, makeTick } from './report.ts'
import type { RunSummary, StartInfo, TickInfo } from './report.ts'
import { SimDevice } from './sim-device.ts'
import type { TlsSettings } from './sim-device.ts'
import { SimStats } from './sim-stats.ts'
import type { Counters, StatsSnapshot } from './sim-stats.ts'

/** Everything a run needs, as plain data (it crosses to worker processes as JSON). */
export interface EngineOptions {
  devices: FleetDevice[]
  mqttUrl: string
  /** Base64 DER of the EUM certificate sent in other-signed notifications. */
  eumCertificate: string
  eim: EimIdentity | null
  /** New connections per second; 0 = all at once. */
  connrate: number
  intervalMs: number
  qos: 0 | 1
  keepaliveSeconds: number
  /** How long a device waits for its CONNACK (default 15 s). */
  connectTimeoutMs?: number
  /** 0 = until stop(). */
  durationMs: number
  notifyIntervalMs: number
  downloadMs: number
  bufferLimit: number
  notificationQueue: number
  faults: Faults
  seed?: number
  /** Carrier keys for downloaded profiles (default: all known). */
  carriers?: string[]
  /** Local addresses to connect from, used round-robin (e.g. 127.0.0.2, 127.0.0.3). */
  sourceAddresses?: string[]
  tls?: { ca?: string, rejectUnauthorized: boolean }
  tickMs?: number
  reconnect?: { minMs: number, maxMs: number }
}

export interface EngineEvents {
  start: [StartInfo]
  tick: [TickInfo]
  done: [RunSummary]
}

export type StopReason = RunSummary['stoppedBy']

/** What the CLI drives: one engine, or a pool of worker processes with the same face. */
export interface LoadRunner extends EventEmitter<EngineEvents> {
  run (): Promise<RunSummary>
  stop (reason?: StopReason): void
  /** The devices' state after the run (profiles, sequence numbers, pending notifications). */
  states (): FleetDevice[]
}

export class SimEngine extends EventEmitter<EngineEvents> implements LoadRunner {
  readonly stats = new SimStats()
  private readonly options: EngineOptions
  private devices: SimDevice[] = []
  private stopReason: StopReason | null = null
  private wake: (() => void) | null = null
  private running = false
  private final: StatsSnapshot | null = null

  constructor (options: EngineOptions) {
    super()
    this.options = options
  }

  stop (reason: StopReason = 'request'): void {
    this.stopReason ??= reason
    this.wake?.()
  }

  /** Counters with the gauges that live in the devices brought up to date. */
  snapshot (): StatsSnapshot {
    let pending = 0
    let dropped = 0
    for (const d of this.devices) {
      pending += d.euicc.pending.length
      dropped += d.euicc.dropped
    }
    this.stats.pendingNotifications = pending
    this.stats.counters.notificationsDropped = dropped
    return this.stats.snapshot()
  }

  /** The snapshot the summary was made from (connected = devices connected when the run was stopped). */
  finalSnapshot (): StatsSnapshot {
    return this.final ?? this.snapshot()
  }

  states (): FleetDevice[] {
    const started = new Map(this.devices.map((d) => [d.id, d]))
    return this.options.devices.map((record) => started.get(record.id)?.state() ?? record)
  }

  async run (): Promise<RunSummary> {
    if (this.running) throw new Error('this engine is running already')
    this.running = true
    const o = this.options
    const t0 = performance.now()
    const rng = new Random(o.seed)
    const eim = trustOf(o.eim)
    const carriers: readonly Carrier[] = o.carriers?.map((k) => carrierByKey(k)).filter((c): c is Carrier => c !== undefined) ?? CARRIERS
    const eumCertificateDer = new Uint8Array(Buffer.from(o.eumCertificate, 'base64'))
    const total = o.devices.length
    const tls: TlsSettings | undefined = o.tls === undefined ? undefined : { rejectUnauthorized: o.tls.rejectUnauthorized, ...(o.tls.ca === undefined ? {} : { ca: o.tls.ca }) }
    this.devices = o.devices.map((record, i) => new SimDevice({
      record,
      mqttUrl: o.mqttUrl,
      eumCertificateDer,
      eim,
      stats: this.stats,
      rng: rng.fork(),
      qos: o.qos,
      intervalMs: o.intervalMs,
      keepaliveSeconds: o.keepaliveSeconds,
      ...(o.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: o.connectTimeoutMs }),
      bufferLimit: o.bufferLimit,
      notifyIntervalMs: o.notifyIntervalMs,
      downloadMs: o.downloadMs,
      faults: o.faults,
      notificationQueue: o.notificationQueue,
      carriers,
      ...(o.sourceAddresses !== undefined && o.sourceAddresses.length > 0 ? { localAddress: o.sourceAddresses[i % o.sourceAddresses.length] } : {}),
      ...(tls === undefined ? {} : { tls }),
      ...(o.reconnect === undefined ? {} : { reconnect: o.reconnect }),
      onFirstConnect: () => {
        if (this.stats.everConnected === total) this.stats.allConnectedAt = Date.now()
      }
    }))
    this.emit('start', { devices: total, workers: 1, mqttUrl: o.mqttUrl, startedAt: new Date().toISOString() })

    let started = 0
    const startDue = () => {
      const due = o.connrate <= 0 ? total : Math.min(total, Math.floor((performance.now() - t0) * o.connrate / 1000) + 1)
      while (started < due && this.stopReason === null) this.devices[started++]!.start()
      if (started >= total) clearInterval(pacer)
    }
    const pacer = setInterval(startDue, 10)
    startDue()

    const tickMs = o.tickMs ?? 1000
    let previous: Counters | null = null
    let lastTick = t0
    const ticker = setInterval(() => {
      const now = performance.now()
      const snapshot = this.snapshot()
      this.emit('tick', makeTick(snapshot, previous, now - lastTick, now - t0, total))
      previous = snapshot.counters
      lastTick = now
    }, tickMs)

    const ended = new Promise<void>((resolve) => { this.wake = resolve })
    const timer = o.durationMs > 0 ? setTimeout(() => this.stop('duration'), o.durationMs) : undefined
    if (this.stopReason !== null) this.wake?.()
    await ended
    const durationMs = performance.now() - t0
    clearTimeout(timer)
    clearInterval(pacer)
    clearInterval(ticker)
    const connectedAtEnd = this.stats.connected
    await Promise.all(this.devices.slice(0, started).map((d) => d.stop()))
    const final = { ...this.snapshot(), connected: connectedAtEnd }
    this.final = final
    const summary = makeSummary(final, { devices: total, workers: 1, mqttUrl: o.mqttUrl, durationMs, stoppedBy: this.stopReason ?? 'request' })
    this.emit('done', summary)
    return summary
  }
}

function trustOf (eim: EimIdentity | null): EimTrust | null {
  if (eim === null) return null
  try {
    return { eimId: eim.eimId, publicKey: createPublicKey(eim.publicKey) }
  } catch {
    return null
  }
}
