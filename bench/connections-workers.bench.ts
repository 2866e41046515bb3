import type { ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { BENCH_POSTGRES_URL, insertDevices, postgresUnreachable } from './bench-hub.ts'
import { boundCheck, printLine, ratioCheck } from './bench-line.ts'
import { everyWorker, forkConnectWorkers, sourceAddresses } from './connect-fleet.ts'
import type { ConnectSpec, WorkerMessage } from './connect-worker.ts'
import { startHubProcess, type HubProcess, type ProcessMemory } from './hub-process.ts'
import { benchRedis } from './redis-server.ts'
import { openDatabase } from '../server/db/database.ts'
import { DEFAULT_TENANT, UserRepository } from '../server/repositories/user-repository.ts'
import { createThrowawayDatabase } from '../test/helpers/throwaway-database.ts'
import { request } from '../test/helpers/hub-client.ts'

/** DEVICES connected devices across hub workers (docs/benchmarks.md): the hub is started as a user
 * starts it, `node --import tsx server/main.ts` with HUB_WORKERS, on a throwaway Postgres database and a
 * Redis of the run's own (bench/redis-server.ts), with the limits deployed by default. The devices,
 * provisioned in bulk, each send a real CONNECT and one QoS 1 publish from LOAD_PROCESSES load generator
 * processes (bench/connect-worker.ts, each under the 20,000-file limit), each from its own share of
 * SOURCE_ADDRESSES loopback addresses; then, all connected, every device publishes QoS 1 telemetry
 * every PUBLISH_INTERVAL_MS for PUBLISH_SECONDS (less often when the workers outnumber the cores: the
 * fleet is offered the reference's rate × min(workers, cores)). The same run first measures the
 * reference: one hub process (HUB_WORKERS=1) holding 1/HUB_WORKERS of the devices, the same way. Memory per connection is
 * summed over the processes holding connections, before (after warm-up devices came and left) and while
 * holding, after collections (bench/hub-memory-probe.ts): the V8 heap used + external growth against
 * the 15 KB budget, as in the one-process connections bench, and the resident set growth beside it. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000)
/** Enough workers that each holds at most 15,000 (the per-process target), which leaves room under the
 * file limit for cluster round-robin's unevenness. */
const HUB_WORKERS = Number(process.env.BENCH_HUB_WORKERS ?? Math.max(2, Math.ceil(DEVICES / 15_000)))
const LOAD_PROCESSES = Number(process.env.BENCH_LOAD_PROCESSES ?? Math.max(2, Math.ceil(DEVICES / 17_000)))
/** 200 addresses: at most 500 connections each for 100,000 (ephemeral ports allow ~28,000). */
const SOURCE_ADDRESSES = Number(process.env.BENCH_SOURCE_ADDRESSES ?? 200)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50)
const WARMUP_PER_WORKER = Number(process.env.BENCH_WARMUP_DEVICES ?? 200)
const CONNECT_RATE_PER_IP = process.env.BENCH_CONNECT_RATE_PER_IP ?? '50'
const PUBLISH_INTERVAL_MS = Number(process.env.BENCH_PUBLISH_INTERVAL_MS ?? 10_000)
const PUBLISH_SECONDS = Number(process.env.BENCH_PUBLISH_SECONDS ?? 20)
const DRAIN_MS = 30_000
const BUDGET_BYTES = 15 * 1024
const ADMIN_PASSWORD = 'bench-admin-password'
/** The publish rate with workers, against one process's rate for its share × the workers with a core of
 * their own (min(HUB_WORKERS, cores)). */
const PUBLISH_RATE_TARGET = 0.9

interface Measured {
  devices: number
  workers: number
  loadProcesses: number
  connected: number
  hubOnline: number
  failed: number
  errors: Record<string, number>
  droppedWhileHeld: number
  connectMs: number
  connectsPerSecond: number
  bytesPerConnection: number
  rssBytesPerConnection: number
  perProcess: Array<{ pid: number, connections: number, rssMB: number, bytesPerConnection: number, rssBytesPerConnection: number }>
  gcExposed: boolean
  publish: { sent: number, acked: number, lost: number, ackedInWindow: number, offeredPerSecond: number, ackedPerSecond: number }
}

/** BENCH_VERBOSE=1: each phase's start on stderr (a run of 100,000 takes many minutes). */
const progress = (what: string): void => { if (process.env.BENCH_VERBOSE === '1') process.stderr.write(`${new Date().toISOString()} connections-workers: ${what}\n`) }
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
const live: { hub?: HubProcess, children: ChildProcess[] } = { children: [] }
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    live.hub?.abort()
    for (const child of live.children) child.kill('SIGKILL')
    process.exit(130)
  })
}

async function fleetOnline (hub: HubProcess, token: string): Promise<number> {
  const answer = await request<{ online: number }>(hub.httpUrl, 'GET', '/api/fleet/summary', { token })
  if (answer.status !== 200) throw new Error(`GET /api/fleet/summary: ${answer.status} ${JSON.stringify(answer.body)}`)
  return answer.body.online
}

/** Polls the hub's online count until `until` holds or `ms` pass; returns the last count. */
async function onlineWhen (hub: HubProcess, token: string, until: (n: number) => boolean, ms: number): Promise<number> {
  const deadline = Date.now() + ms
  let online = await fleetOnline(hub, token)
  while (!until(online) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    online = await fleetOnline(hub, token)
  }
  return online
}

async function measure (devicesCount: number, workers: number, loadProcesses: number, redisUrl: string, publishIntervalMs: number): Promise<Measured> {
  const database = await createThrowawayDatabase(BENCH_POSTGRES_URL)
  const children: ChildProcess[] = []
  live.children = children
  let hub: HubProcess | undefined
  try {
    progress(`${workers} hub process(es), ${devicesCount} devices: provisioning`)
    const db = await openDatabase(database.url, { poolSize: 2 })
    const tenantId = await new UserRepository(db).ensureTenant(DEFAULT_TENANT)
    const devices = await insertDevices(db.db, tenantId, devicesCount, 'fleet')
    const warmup = await insertDevices(db.db, tenantId, WARMUP_PER_WORKER * workers, 'warm-up')
    await db.close()
    progress('starting the hub')
    hub = await startHubProcess({
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      HUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
      HUB_CONNECT_RATE_PER_IP: CONNECT_RATE_PER_IP,
      HUB_DEVICE_PUBLISH_RATE: '50',
      HUB_DEVICE_PUBLISH_BURST: '200'
    }, workers)
    live.hub = hub
    const login = await request<{ accessToken: string }>(hub.httpUrl, 'POST', '/api/auth/login', { body: { email: 'admin@localhost', password: ADMIN_PASSWORD } })
    if (login.status !== 200) throw new Error(`admin login: ${login.status} ${JSON.stringify(login.body)}`)
    const token = login.body.accessToken
    const { hostname, port } = new URL(hub.mqttUrl)
    const addresses = sourceAddresses(SOURCE_ADDRESSES)
    const specs = Array.from({ length: loadProcesses }, (_, w): ConnectSpec => ({
      host: hostname,
      port: Number(port),
      devices: devices.filter((_, i) => i % loadProcesses === w),
      warmup: warmup.filter((_, i) => i % loadProcesses === w),
      addresses: addresses.filter((_, i) => i % loadProcesses === w),
      concurrency: CONCURRENCY,
      keepaliveSeconds: 1200,
      timeoutMs: 60_000
    }))
    const generators = await forkConnectWorkers(specs, children)
    progress('warm-up')
    await everyWorker(generators, { type: 'warmup' }, 'warmed', 300_000)
    await onlineWhen(hub, token, (n) => n === 0, 60_000)
    const before = await hub.memory()
    progress('connecting')
    const t0 = Date.now()
    const holding = await everyWorker(generators, { type: 'go' }, 'holding', Math.max(300_000, devicesCount * 100))
    const connectMs = Math.max(...holding.map((r) => r.lastConnackAt)) - t0
    const connected = sum(holding.map((r) => r.connected))
    const hubOnline = await onlineWhen(hub, token, (n) => n >= connected, 60_000)
    const during = await hub.memory()
    progress(`${connected} held (${hubOnline} online by the hub): publishing`)
    const published = await everyWorker(generators, { type: 'publish', intervalMs: publishIntervalMs, durationMs: PUBLISH_SECONDS * 1000, drainMs: DRAIN_MS }, 'published', PUBLISH_SECONDS * 1000 + DRAIN_MS + 60_000)
    const released = await everyWorker(generators, { type: 'release' }, 'released', 60_000)
    return summarize(devicesCount, workers, loadProcesses, holding, published, released, before, during, connectMs, hubOnline, publishIntervalMs)
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await hub?.stop()
    live.hub = undefined
    await database.drop()
  }
}

function summarize (devices: number, workers: number, loadProcesses: number, holding: Array<Extract<WorkerMessage, { type: 'holding' }>>, published: Array<Extract<WorkerMessage, { type: 'published' }>>,
  released: Array<Extract<WorkerMessage, { type: 'released' }>>, before: ProcessMemory[], during: ProcessMemory[], connectMs: number, hubOnline: number, publishIntervalMs: number): Measured {
  const connected = sum(holding.map((r) => r.connected))
  const errors: Record<string, number> = {}
  for (const r of holding) for (const [reason, n] of Object.entries(r.errors)) errors[reason] = (errors[reason] ?? 0) + n
  const perProcess = during.map((d) => {
    const b = before.find((x) => x.pid === d.pid) as ProcessMemory
    const connections = Math.max(1, d.sockets - b.sockets)
    const liveGrowth = d.heapUsed + d.external - b.heapUsed - b.external
    return { pid: d.pid, connections, rssMB: Math.round(d.rss / 1048576), bytesPerConnection: Math.round(liveGrowth / connections), rssBytesPerConnection: Math.round((d.rss - b.rss) / connections), liveGrowth, rssGrowth: d.rss - b.rss }
  })
  const sent = sum(published.map((p) => p.sent))
  const acked = sum(published.map((p) => p.acked))
  const ackedInWindow = sum(published.map((p) => p.ackedInWindow))
  return {
    devices,
    workers,
    loadProcesses,
    connected,
    hubOnline,
    failed: sum(holding.map((r) => r.failed)),
    errors,
    droppedWhileHeld: sum(released.map((r) => r.dropped)),
    connectMs,
    connectsPerSecond: Math.round(connected / (connectMs / 1000)),
    bytesPerConnection: Math.round(sum(perProcess.map((p) => p.liveGrowth)) / Math.max(1, connected)),
    rssBytesPerConnection: Math.round(sum(perProcess.map((p) => p.rssGrowth)) / Math.max(1, connected)),
    perProcess: perProcess.map(({ liveGrowth, rssGrowth, ...rest }) => rest),
    gcExposed: during.every((d) => d.gcExposed),
    publish: {
      sent,
      acked,
      lost: sent - acked,
      ackedInWindow,
      offeredPerSecond: Math.round(sum(published.map((p) => p.devices)) / (publishIntervalMs / 1000)),
      ackedPerSecond: Math.round(ackedInWindow / PUBLISH_SECONDS)
    }
  }
}

const postgresDown = await postgresUnreachable(BENCH_POSTGRES_URL)
const redis = postgresDown === undefined ? await benchRedis() : { unavailable: 'not tried' }
const base = { database: 'postgres', target: DEVICES, hubWorkers: HUB_WORKERS }
if (postgresDown !== undefined) {
  printLine('connections-workers', { ...base, skipped: `Postgres ${postgresDown}` }, [])
} else if ('unavailable' in redis) {
  printLine('connections-workers', { ...base, skipped: `Redis ${redis.unavailable}` }, [])
} else {
  try {
    const referenceDevices = Math.ceil(DEVICES / HUB_WORKERS)
    const reference = await measure(referenceDevices, 1, Math.max(1, Math.ceil(referenceDevices / 17_000)), redis.url, PUBLISH_INTERVAL_MS)
    // Workers beyond the cores share them: the whole fleet is offered the reference's rate times the
    // workers that have a core of their own (each device then publishes less often), and must sustain it.
    const scale = Math.min(HUB_WORKERS, availableParallelism())
    const fullIntervalMs = Math.round(PUBLISH_INTERVAL_MS * DEVICES / (referenceDevices * scale))
    const full = await measure(DEVICES, HUB_WORKERS, LOAD_PROCESSES, redis.url, fullIntervalMs)
    const { perProcess: referencePerProcess, ...referenceFigures } = reference
    printLine('connections-workers', {
      ...base,
      redis: redis.kind,
      ...full,
      sourceAddresses: SOURCE_ADDRESSES,
      connectRatePerIp: Number(CONNECT_RATE_PER_IP),
      publishIntervalMs: fullIntervalMs,
      cores: availableParallelism(),
      publishSeconds: PUBLISH_SECONDS,
      memoryBasis: 'V8 heap used + external growth after gc, summed over the hub processes, / connections',
      budgetBytes: BUDGET_BYTES,
      reference: { ...referenceFigures, pid: referencePerProcess[0]?.pid },
      pass: full.hubOnline >= DEVICES && full.bytesPerConnection <= BUDGET_BYTES && full.publish.lost === 0
    }, [
      ratioCheck('connected', full.hubOnline, 'connections', 'devices to connect', DEVICES, 1),
      boundCheck('hubBytesPerConnection', full.bytesPerConnection, 'bytes', BUDGET_BYTES),
      ratioCheck('ackedPerSecond', full.publish.ackedPerSecond, 'msg/s', `1 hub process holding ${referenceDevices} devices × ${scale} (workers with a core)`, reference.publish.ackedPerSecond * scale, PUBLISH_RATE_TARGET),
      boundCheck('lost', full.publish.lost, 'messages', 0)
    ])
  } finally {
    await redis.stop()
  }
}
