// Counters and latency histograms of a run (HDR histograms in microseconds), with a serialisable
// snapshot so worker processes can report to the parent, which merges them.
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js'
import type { Histogram } from 'hdr-histogram-js'

export const COUNTER_NAMES = [
  'connectAttempts', 'connects', 'connectFailures', 'disconnects',
  'published', 'acked', 'publishErrors',
  'telemetryMessages', 'samplesSent', 'samplesDropped',
  'notificationsCreated', 'notificationsSent', 'notificationsDelivered', 'notificationsAcked',
  'notificationsDuplicate', 'notificationsRejected', 'notificationsDropped', 'unknownAcks',
  'commandsReceived', 'commandsOk', 'commandsFailed', 'commandsRepeated', 'inventoryReports'
] as const
export type CounterName = typeof COUNTER_NAMES[number]
export type Counters = Record<CounterName, number>

export const HISTOGRAM_NAMES = ['ack', 'connect', 'notificationAck'] as const
export type HistogramName = typeof HISTOGRAM_NAMES[number]

export interface StatsSnapshot {
  counters: Counters
  /** Devices connected now. */
  connected: number
  /** Devices that have connected at least once. */
  everConnected: number
  pendingNotifications: number
  errors: Record<string, number>
  /** Compressed HDR histograms (µs). */
  histograms: Record<HistogramName, string>
  /** Epoch ms of the first connection attempt and of the moment every device had connected once. */
  firstAttemptAt: number | null
  allConnectedAt: number | null
}

export interface Percentiles { p50: number, p90: number, p99: number, p999: number, max: number, mean: number, count: number }

export function newHistogram (): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
}

export const zeroCounters = (): Counters => Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters

export class SimStats {
  readonly counters: Counters = zeroCounters()
  readonly errors = new Map<string, number>()
  readonly histograms: Record<HistogramName, Histogram> = { ack: newHistogram(), connect: newHistogram(), notificationAck: newHistogram() }
  connected = 0
  everConnected = 0
  pendingNotifications = 0
  firstAttemptAt: number | null = null
  allConnectedAt: number | null = null

  count (name: CounterName, n = 1): void {
    this.counters[name] += n
  }

  error (kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1)
  }

  /** Records a latency given in milliseconds (kept in µs). */
  latency (name: HistogramName, ms: number): void {
    this.histograms[name].recordValue(Math.max(1, Math.round(ms * 1000)))
  }

  get errorCount (): number {
    let n = 0
    for (const v of this.errors.values()) n += v
    return n
  }

  snapshot (): StatsSnapshot {
    return {
      counters: { ...this.counters },
      connected: this.connected,
      everConnected: this.everConnected,
      pendingNotifications: this.pendingNotifications,
      errors: Object.fromEntries(this.errors),
      histograms: Object.fromEntries(HISTOGRAM_NAMES.map((n) => [n, encodeIntoCompressedBase64(this.histograms[n])])) as Record<HistogramName, string>,
      firstAttemptAt: this.firstAttemptAt,
      allConnectedAt: this.allConnectedAt
    }
  }

  destroy (): void {
    for (const h of Object.values(this.histograms)) h.destroy()
  }
}

/** Sums snapshots (of worker processes); `allConnectedAt` is set only when every part has one. */
export function mergeSnapshots (parts: readonly StatsSnapshot[]): StatsSnapshot {
  const counters = zeroCounters()
  const errors: Record<string, number> = {}
  const merged = { ack: newHistogram(), connect: newHistogram(), notificationAck: newHistogram() }
  let connected = 0
  let everConnected = 0
  let pending = 0
  let first: number | null = null
  let all: number | null = parts.length > 0 ? 0 : null
  for (const p of parts) {
    for (const n of COUNTER_NAMES) counters[n] += p.counters[n]
    for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v
    for (const n of HISTOGRAM_NAMES) {
      const h = decodeFromCompressedBase64(p.histograms[n], 32, false)
      merged[n].add(h)
      h.destroy()
    }
    connected += p.connected
    everConnected += p.everConnected
    pending += p.pendingNotifications
    if (p.firstAttemptAt !== null) first = first === null ? p.firstAttemptAt : Math.min(first, p.firstAttemptAt)
    all = all === null || p.allConnectedAt === null ? null : Math.max(all, p.allConnectedAt)
  }
  const histograms = Object.fromEntries(HISTOGRAM_NAMES.map((n) => {
    const encoded = encodeIntoCompressedBase64(merged[n])
    merged[n].destroy()
    return [n, encoded]
  })) as Record<HistogramName, string>
  return { counters, connected, everConnected, pendingNotifications: pending, errors, histograms, firstAttemptAt: first, allConnectedAt: all }
}

const ms = (us: number) => Math.round(us) / 1000

export function percentiles (h: Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 }
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
    count: h.totalCount
  }
}

export function snapshotPercentiles (snapshot: StatsSnapshot, name: HistogramName): Percentiles {
  const h = decodeFromCompressedBase64(snapshot.histograms[name], 32, false)
  try {
    return percentiles(h)
  } finally {
    h.destroy()
  }
}
