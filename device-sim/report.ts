// What a run reports: a tick every second (the live progress line on stderr) and a final summary (text,
// or one JSON line with --json, on stdout). Built from stats snapshots, so one process and a pool of
// worker processes report the same way.
import type { Counters, Percentiles, StatsSnapshot } from './sim-stats.ts'
import { snapshotPercentiles } from './sim-stats.ts'

export interface StartInfo {
  devices: number
  workers: number
  mqttUrl: string
  startedAt: string
}

export interface TickInfo {
  elapsedMs: number
  devices: number
  connected: number
  everConnected: number
  pendingNotifications: number
  errors: number
  counters: Counters
  /** Per second over the last tick. */
  rates: { connects: number, published: number, acked: number, samples: number }
  ackP99Ms: number
}

export interface RunSummary {
  devices: number
  workers: number
  mqttUrl: string
  durationMs: number
  connections: {
    everConnected: number
    connectedAtEnd: number
    attempts: number
    failures: number
    disconnects: number
    /** Devices connected per second from the first attempt until all had connected (or the end). */
    ratePerSecond: number
    /** From the first attempt until every device had connected once; null when some never did. */
    allConnectedMs: number | null
    latencyMs: Percentiles
  }
  messages: { published: number, acked: number, publishErrors: number, perSecond: number, ackedPerSecond: number }
  ackLatencyMs: Percentiles
  telemetry: { messages: number, samplesSent: number, samplesDropped: number, samplesPerSecond: number }
  notifications: {
    created: number
    sent: number
    delivered: number
    acknowledged: number
    duplicate: number
    rejected: number
    dropped: number
    pending: number
    unknownAcks: number
    ackLatencyMs: Percentiles
  }
  commands: { received: number, ok: number, failed: number, repeated: number }
  inventoryReports: number
  errors: { total: number, byKind: Record<string, number> }
  stoppedBy: 'duration' | 'signal' | 'request'
}

const per = (n: number, ms: number) => ms <= 0 ? 0 : Math.round(n * 100_000 / ms) / 100
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0)

export function makeTick (snapshot: StatsSnapshot, previous: Counters | null, intervalMs: number, elapsedMs: number, devices: number): TickInfo {
  const c = snapshot.counters
  const delta = (k: keyof Counters) => per(c[k] - (previous?.[k] ?? 0), intervalMs)
  return {
    elapsedMs,
    devices,
    connected: snapshot.connected,
    everConnected: snapshot.everConnected,
    pendingNotifications: snapshot.pendingNotifications,
    errors: sum(snapshot.errors),
    counters: { ...c },
    rates: { connects: delta('connects'), published: delta('published'), acked: delta('acked'), samples: delta('samplesSent') },
    ackP99Ms: snapshotPercentiles(snapshot, 'ack').p99
  }
}

export function makeSummary (snapshot: StatsSnapshot, run: { devices: number, workers: number, mqttUrl: string, durationMs: number, stoppedBy: RunSummary['stoppedBy'] }): RunSummary {
  const c = snapshot.counters
  const first = snapshot.firstAttemptAt
  const allConnectedMs = first !== null && snapshot.allConnectedAt !== null ? snapshot.allConnectedAt - first : null
  const connectWindow = allConnectedMs ?? (first === null ? 0 : run.durationMs)
  return {
    devices: run.devices,
    workers: run.workers,
    mqttUrl: run.mqttUrl,
    durationMs: Math.round(run.durationMs),
    connections: {
      everConnected: snapshot.everConnected,
      connectedAtEnd: snapshot.connected,
      attempts: c.connectAttempts,
      failures: c.connectFailures,
      disconnects: c.disconnects,
      ratePerSecond: per(snapshot.everConnected, Math.max(connectWindow, 1)),
      allConnectedMs,
      latencyMs: snapshotPercentiles(snapshot, 'connect')
    },
    messages: { published: c.published, acked: c.acked, publishErrors: c.publishErrors, perSecond: per(c.published, run.durationMs), ackedPerSecond: per(c.acked, run.durationMs) },
    ackLatencyMs: snapshotPercentiles(snapshot, 'ack'),
    telemetry: { messages: c.telemetryMessages, samplesSent: c.samplesSent, samplesDropped: c.samplesDropped, samplesPerSecond: per(c.samplesSent, run.durationMs) },
    notifications: {
      created: c.notificationsCreated,
      sent: c.notificationsSent,
      delivered: c.notificationsDelivered,
      acknowledged: c.notificationsAcked,
      duplicate: c.notificationsDuplicate,
      rejected: c.notificationsRejected,
      dropped: c.notificationsDropped,
      pending: snapshot.pendingNotifications,
      unknownAcks: c.unknownAcks,
      ackLatencyMs: snapshotPercentiles(snapshot, 'notificationAck')
    },
    commands: { received: c.commandsReceived, ok: c.commandsOk, failed: c.commandsFailed, repeated: c.commandsRepeated },
    inventoryReports: c.inventoryReports,
    errors: { total: sum(snapshot.errors), byKind: snapshot.errors },
    stoppedBy: run.stoppedBy
  }
}

const pad = (s: string | number, n: number) => String(s).padStart(n)

/** One line, e.g. `[  12s] conn 200/200  pub 412/s  ack 410/s p99 8.1ms  notif pend 0  err 0`. */
export function formatProgress (tick: TickInfo): string {
  return `[${pad(Math.round(tick.elapsedMs / 1000), 5)}s] conn ${pad(tick.connected, String(tick.devices).length)}/${tick.devices}` +
    `  pub ${pad(Math.round(tick.rates.published), 6)}/s  ack ${pad(Math.round(tick.rates.acked), 6)}/s p99 ${tick.ackP99Ms.toFixed(1)}ms` +
    `  notif sent ${tick.counters.notificationsDelivered} acked ${tick.counters.notificationsAcked} pend ${tick.pendingNotifications}` +
    `  err ${tick.errors}`
}

const lat = (p: Percentiles) => p.count === 0
  ? 'n/a'
  : `p50 ${p.p50} ms  p90 ${p.p90} ms  p99 ${p.p99} ms  p99.9 ${p.p999} ms  max ${p.max} ms  (${p.count})`

export function formatSummary (s: RunSummary): string {
  const lines = [
    `device-sim: ${s.devices} devices${s.workers > 1 ? ` in ${s.workers} workers` : ''} against ${s.mqttUrl} for ${(s.durationMs / 1000).toFixed(1)} s (stopped by ${s.stoppedBy})`,
    `connections    ${s.connections.everConnected}/${s.devices} connected (${s.connections.connectedAtEnd} at the end), ${s.connections.ratePerSecond}/s` +
      `${s.connections.allConnectedMs === null ? '' : `, all in ${(s.connections.allConnectedMs / 1000).toFixed(2)} s`}; ` +
      `${s.connections.attempts} attempts, ${s.connections.failures} failed, ${s.connections.disconnects} disconnects`,
    `connect time   ${lat(s.connections.latencyMs)}`,
    `messages       ${s.messages.published} published (${s.messages.perSecond}/s), ${s.messages.acked} acknowledged (${s.messages.ackedPerSecond}/s), ${s.messages.publishErrors} not acknowledged`,
    `PUBACK latency ${lat(s.ackLatencyMs)}`,
    `telemetry      ${s.telemetry.samplesSent} samples in ${s.telemetry.messages} messages (${s.telemetry.samplesPerSecond}/s), ${s.telemetry.samplesDropped} dropped`,
    `notifications  ${s.notifications.created} signed in this run, ${s.notifications.delivered} delivered, ${s.notifications.acknowledged} acknowledged` +
      ` (${s.notifications.duplicate} as duplicate), ${s.notifications.rejected} rejected, ${s.notifications.pending} pending, ${s.notifications.dropped} dropped`,
    `hub ack time   ${lat(s.notifications.ackLatencyMs)}`,
    `commands       ${s.commands.received} received, ${s.commands.ok} ok, ${s.commands.failed} failed, ${s.commands.repeated} repeated`,
    `errors         ${s.errors.total}${s.errors.total === 0 ? '' : ' — ' + Object.entries(s.errors.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}`
  ]
  return lines.join('\n')
}
