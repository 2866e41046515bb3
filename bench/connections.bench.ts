import { startBenchHub } from './bench-hub.ts'
import { runLoad } from './run-load.ts'

/** Connections held by one hub process: DEVICES authenticated devices connect (each publishes one QoS 1
 * sample, so its session is fully set up), and the hub's own heap and buffers are measured while they
 * are all connected, against the same hub before. The load runs in a worker thread, whose heap is its
 * own and not counted; the process RSS (which includes it) is reported for reference. One JSON line. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 5000)

const bench = await startBenchHub()
try {
  const devices = []
  for (let i = 0; i < DEVICES; i++) {
    const credentials = await bench.createDevice({ name: `conn ${i}` })
    devices.push({ ...credentials, topic: `devices/${credentials.clientId}/telemetry` })
  }
  const settle = async () => {
    for (let i = 0; i < 3; i++) { global.gc?.(); await new Promise((resolve) => setTimeout(resolve, 200)) }
    const m = process.memoryUsage()
    return { heap: m.heapUsed + m.external, rss: m.rss }
  }
  const before = await settle()
  let during = before
  let connected = 0
  const load = await runLoad({ url: bench.hub.mqttUrl, devices, perDevice: 1, window: 1, baseTs: Date.now() - 60_000 }, async () => {
    connected = bench.hub.broker.connectedClients
    during = await settle()
  })
  console.log(JSON.stringify({
    bench: 'connections',
    devices: DEVICES,
    connected,
    connectMs: load.connectMs,
    connectPerSecond: Math.round(DEVICES / (load.connectMs / 1000)),
    hubBytesPerConnection: Math.round((during.heap - before.heap) / Math.max(1, connected)),
    gcExposed: typeof global.gc === 'function',
    processRssMB: Math.round(during.rss / 1048576)
  }))
} finally {
  await bench.close()
}
