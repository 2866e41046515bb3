import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { benchDatabases, startBenchHub, type BenchHub } from './bench-hub.ts'
import { boundCheck, printLine } from './bench-line.ts'
import type { LatencyResult, LatencySpec } from './latency-worker.ts'
import { runLoad } from './run-load.ts'

/** Publish→SSE latency: a short durable-ingest measurement of the hub first (DEVICES devices, window
 * WINDOW, PROBE_PER_DEVICE messages each, as the durable-ingest bench), then the same devices publish
 * QoS 1 telemetry at half that rate for SECONDS while one dashboard stream (`POST /api/events/ticket`,
 * `GET /api/events`) receives the `telemetry` events; the load generator (a worker thread) stamps each
 * sample with its own clock and reads it back from the event. HDR histogram; target p99 ≤ 50 ms. One
 * JSON line per database of BENCH_DATABASES. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 100)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20)
const PROBE_PER_DEVICE = Number(process.env.BENCH_PROBE_PER_DEVICE ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1000)
const LOAD_SHARE = 0.5
const TARGET_P99_MS = 50

function runLatency (spec: LatencySpec): Promise<LatencyResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./latency-worker-entry.js', import.meta.url), { workerData: spec })
    worker.once('message', (msg: LatencyResult & { error?: string }) => {
      worker.terminate().catch(() => {})
      if (msg.error !== undefined) reject(new Error(msg.error))
      else resolve(msg)
    })
    worker.once('error', reject)
  })
}

async function streamUrl (bench: BenchHub): Promise<string> {
  const base = bench.hub.httpUrl
  const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@localhost', password: 'bench-admin-password' }) })
  if (login.status !== 200) throw new Error(`login answered ${login.status}: ${await login.text()}`)
  const { accessToken } = await login.json() as { accessToken: string }
  const ticket = await fetch(`${base}/api/events/ticket`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } })
  if (ticket.status !== 200) throw new Error(`ticket answered ${ticket.status}: ${await ticket.text()}`)
  return `${base}/api/events?ticket=${encodeURIComponent((await ticket.json() as { ticket: string }).ticket)}`
}

for (const database of await benchDatabases()) {
  const details = { devices: DEVICES, window: WINDOW, database: database.name }
  if (database.unavailable !== undefined) {
    printLine('sse-latency', { ...details, skipped: database.unavailable }, [])
    continue
  }
  const bench = await startBenchHub({}, database.serverUrl)
  try {
    const devices = (await bench.provisionDevices(DEVICES, 'sse')).map((d) => ({ ...d, topic: `devices/${d.clientId}/telemetry` }))
    const probe = await runLoad({ url: bench.hub.mqttUrl, devices, perDevice: PROBE_PER_DEVICE, window: WINDOW, baseTs: Date.now() - 3600_000 })
    const durableRate = probe.acked / ((probe.endedAt - probe.startedAt) / 1000)
    const rate = Math.max(1, Math.round(durableRate * LOAD_SHARE))
    // The hub's own event-loop delay during the run: stalls there (GC, CPU taken by other processes)
    // show up one for one in the latency's tail.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    const sseUrl = await streamUrl(bench)
    loopDelay.enable()
    const result = await runLatency({ mqttUrl: bench.hub.mqttUrl, sseUrl, devices, ratePerSecond: rate, seconds: SECONDS, warmupMs: WARMUP_MS, seqBase: 1_000_000 })
    loopDelay.disable()
    printLine('sse-latency', {
      ...details,
      durableRate: Math.round(durableRate),
      loadShare: LOAD_SHARE,
      ratePerSecond: rate,
      achievedRate: result.achievedRate,
      seconds: SECONDS,
      sent: result.sent,
      acked: result.acked,
      received: result.received,
      counted: result.counted,
      p50Ms: result.p50Ms,
      p90Ms: result.p90Ms,
      p99Ms: result.p99Ms,
      p999Ms: result.p999Ms,
      maxMs: result.maxMs,
      meanMs: result.meanMs,
      hubEventLoopDelayMs: { p50: Number((loopDelay.percentile(50) / 1e6).toFixed(1)), p99: Number((loopDelay.percentile(99) / 1e6).toFixed(1)), max: Number((loopDelay.max / 1e6).toFixed(1)) },
      clock: 'load generator thread, performance.now() stamped into each sample\'s uptime (µs)'
    }, [
      boundCheck('p99Ms', result.p99Ms, 'ms', TARGET_P99_MS),
      { metric: 'received', value: result.received, unit: 'events', reference: 'sent', referenceValue: result.sent, ratio: result.sent === 0 ? 0 : Number((result.received / result.sent).toFixed(4)), target: 1, kind: 'atLeast', score: result.sent === 0 ? 0 : Number((result.received / result.sent).toFixed(4)), pass: result.sent > 0 && result.received === result.sent }
    ])
  } finally {
    await bench.close()
  }
}
