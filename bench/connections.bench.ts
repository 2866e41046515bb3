import { spawnSync, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeHeapSnapshot } from 'node:v8'
import { benchDatabases, startBenchHub, type BenchHub } from './bench-hub.ts'
import { boundCheck, printLine } from './bench-line.ts'
import { forkConnectWorkers, message, sourceAddresses } from './connect-fleet.ts'
import type { ConnectSpec } from './connect-worker.ts'

/** Connections held by one hub process: TARGET authenticated devices (provisioned in bulk) connect with a
 * real CONNECT and publish one QoS 1 sample each (so each session is fully set up), and the hub's memory
 * is measured, after collections, while they are all connected, against the same hub before they came
 * (after WARMUP_DEVICES others connected and left, so one-time costs are not counted per connection).
 * This process holds only the hub; the clients run in WORKERS child processes (each well under the
 * 20,000-file limit), connecting from SOURCE_ADDRESSES loopback addresses 127.0.0.2… in turn, with the
 * hub's limits in place (HUB_CONNECT_RATE_PER_IP at its default of 50/s per address, which the spread
 * keeps every address under; the per-device publish limit at its defaults). The figure compared with the
 * budget is the live memory a connection holds: V8 heap used + external (buffers) growth after
 * collections, per connection. The hub's resident set growth is printed beside it: it also counts the
 * heap V8 keeps after the connection storm (heap total grows about twice as much as heap used) and the
 * young generation's growth, which are the allocator's sizing, not a connection's state, and swing by
 * a factor of two between runs. One JSON line per database of BENCH_DATABASES. */
const TARGET = Number(process.env.BENCH_DEVICES ?? 15_000)
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4)
const SOURCE_ADDRESSES = Number(process.env.BENCH_SOURCE_ADDRESSES ?? 200)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50)
const WARMUP_DEVICES = Number(process.env.BENCH_WARMUP_DEVICES ?? 200)
/** The hub's limits as deployed (the documented defaults), so their per-connection state is counted. */
const CONNECT_RATE_PER_IP = process.env.BENCH_CONNECT_RATE_PER_IP ?? '50'
/** A directory: heap snapshots of the hub before and while holding the connections are written there
 * (to find what a connection costs; the memory figures of such a run are not comparable). */
const HEAP_SNAPSHOTS = process.env.BENCH_HEAP_SNAPSHOTS
const BUDGET_BYTES = 15 * 1024

/** The embedded database's WebAssembly memory (part of the hub's RSS, outside the V8 heap), or 0. */
const wasmBytes = (bench: BenchHub): number => {
  const client = (bench.hub.database.db as unknown as { $client?: { mod?: { HEAPU8?: Uint8Array } } }).$client
  return client?.mod?.HEAPU8?.byteLength ?? 0
}

const settle = async (bench: BenchHub): Promise<NodeJS.MemoryUsage & { wasm: number }> => {
  for (let i = 0; i < 4; i++) { global.gc?.(); await new Promise((resolve) => setTimeout(resolve, 250)) }
  return { ...process.memoryUsage(), wasm: wasmBytes(bench) }
}

const databases = await benchDatabases()
if (databases.length > 1) {
  // One process per database: the memory figures of one hub must not start from another's heap.
  for (const database of databases) {
    spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, BENCH_DATABASES: database.name } })
  }
} else {
  for (const database of databases) {
    if (database.unavailable !== undefined) printLine('connections', { database: database.name, target: TARGET, skipped: database.unavailable }, [])
    else await once(database.serverUrl)
  }
}

async function once (serverUrl: string | undefined): Promise<void> {
  const bench = await startBenchHub({ HUB_CONNECT_RATE_PER_IP: CONNECT_RATE_PER_IP, HUB_DEVICE_PUBLISH_RATE: '50', HUB_DEVICE_PUBLISH_BURST: '200' }, serverUrl)
  let children: ChildProcess[] = []
  const forked: ChildProcess[] = []
  try {
    const devices = await bench.provisionDevices(TARGET, 'conn')
    const warmupDevices = await bench.provisionDevices(WARMUP_DEVICES, 'warm-up')
    const { hostname, port } = new URL(bench.hub.mqttUrl)
    const addresses = sourceAddresses(SOURCE_ADDRESSES)
    const specs = Array.from({ length: WORKERS }, (_, w): ConnectSpec => ({
      host: hostname,
      port: Number(port),
      devices: devices.filter((_, i) => i % WORKERS === w),
      warmup: warmupDevices.filter((_, i) => i % WORKERS === w),
      addresses: addresses.filter((_, i) => i % WORKERS === w),
      concurrency: CONCURRENCY,
      keepaliveSeconds: 1200,
      timeoutMs: 60_000
    }))
    children = await forkConnectWorkers(specs, forked)
    const warmed = children.map((child) => message(child, 'warmed'))
    for (const child of children) child.send({ type: 'warmup' })
    await Promise.all(warmed)
    while (bench.hub.broker.connectedClients > 0) await new Promise((resolve) => setTimeout(resolve, 50))
    const before = await settle(bench)
    if (HEAP_SNAPSHOTS !== undefined) writeHeapSnapshot(join(HEAP_SNAPSHOTS, 'before.heapsnapshot'))
    const t0 = Date.now()
    const holding = children.map((child) => message(child, 'holding'))
    for (const child of children) child.send({ type: 'go' })
    const results = await Promise.all(holding)
    const connectMs = Math.max(...results.map((r) => r.lastConnackAt)) - t0
    const during = await settle(bench)
    const connected = bench.hub.broker.connectedClients
    if (HEAP_SNAPSHOTS !== undefined) writeHeapSnapshot(join(HEAP_SNAPSHOTS, 'during.heapsnapshot'))
    const released = children.map((child) => message(child, 'released'))
    for (const child of children) child.send({ type: 'release' })
    const dropped = (await Promise.all(released)).reduce((n, r) => n + r.dropped, 0)
    const errors: Record<string, number> = {}
    for (const r of results) for (const [reason, n] of Object.entries(r.errors)) errors[reason] = (errors[reason] ?? 0) + n
    const per = (key: 'rss' | 'heapTotal' | 'heapUsed' | 'external' | 'arrayBuffers' | 'wasm'): number => Math.round((during[key] - before[key]) / Math.max(1, connected))
    const livePerConnection = per('heapUsed') + per('external')
    printLine('connections', {
      database: bench.hub.database.driver,
      target: TARGET,
      connected,
      failed: results.reduce((n, r) => n + r.failed, 0),
      ...(Object.keys(errors).length > 0 ? { errors } : {}),
      droppedWhileHeld: dropped,
      workers: WORKERS,
      sourceAddresses: SOURCE_ADDRESSES,
      connectRatePerIp: Number(CONNECT_RATE_PER_IP),
      connectMs,
      connectsPerSecond: Math.round(connected / (connectMs / 1000)),
      memoryBasis: 'hub process V8 heap used + external growth after gc / connections',
      hubBytesPerConnection: livePerConnection,
      hubRssBytesPerConnection: per('rss'),
      hubHeapUsedBytesPerConnection: per('heapUsed'),
      hubExternalBytesPerConnection: per('external'),
      hubHeapTotalBytesPerConnection: per('heapTotal'),
      hubDatabaseWasmBytesPerConnection: per('wasm'),
      budgetBytes: BUDGET_BYTES,
      pass: connected >= TARGET && livePerConnection <= BUDGET_BYTES,
      gcExposed: typeof global.gc === 'function',
      hubRssMB: Math.round(during.rss / 1048576)
    }, [
      { metric: 'connected', value: connected, unit: 'connections', target: 1, kind: 'atLeast', reference: 'devices to connect', referenceValue: TARGET, ratio: Number((connected / TARGET).toFixed(3)), score: Number((connected / TARGET).toFixed(3)), pass: connected >= TARGET },
      boundCheck('hubBytesPerConnection', livePerConnection, 'bytes', BUDGET_BYTES)
    ])
  } finally {
    for (const child of forked) if (child.exitCode === null) child.kill()
    await bench.close()
  }
}
