import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import { startBenchHub } from './bench-hub.ts'
import { runLoad } from './run-load.ts'

/** Durable ingest: the same QoS 1 load against bare Aedes (one QoS 1 ingest subscriber) and against the
 * hub (each PUBACK after the commit), in one run. Prints one JSON line. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 100)
const PER_DEVICE = Number(process.env.BENCH_PER_DEVICE ?? 600)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20)

async function bareAedes (): Promise<{ rate: number, delivered: number }> {
  const broker = await Aedes.createBroker()
  const server = createServer((socket) => broker.handle(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
  const total = DEVICES * PER_DEVICE
  const subscriber = await mqtt.connectAsync(url, { clientId: 'ingest', clean: true })
  await subscriber.subscribeAsync('devices/+/telemetry', { qos: 1 })
  let delivered = 0
  let lastAt = 0
  const allDelivered = new Promise<void>((resolve) => {
    subscriber.on('message', () => {
      delivered++
      lastAt = Date.now()
      if (delivered === total) resolve()
    })
  })
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ clientId: `d${i}`, username: `d${i}`, password: 'x', topic: `devices/d${i}/telemetry` }))
  const load = await runLoad({ url, devices, perDevice: PER_DEVICE, window: WINDOW, baseTs: Date.now() })
  await Promise.race([allDelivered, new Promise((resolve) => setTimeout(resolve, 10_000))])
  await subscriber.endAsync()
  await new Promise<void>((resolve) => broker.close(() => resolve()))
  server.close()
  return { rate: delivered / ((Math.max(lastAt, load.endedAt) - load.startedAt) / 1000), delivered }
}

async function hub (): Promise<{ rate: number, acked: number, stored: number, lost: number, duplicated: number, driver: string }> {
  const bench = await startBenchHub()
  try {
    const devices = []
    for (let i = 0; i < DEVICES; i++) {
      const credentials = await bench.createDevice({ name: `bench ${i}` })
      devices.push({ ...credentials, topic: `devices/${credentials.clientId}/telemetry` })
    }
    const baseTs = Date.now() - 3600_000
    const load = await runLoad({ url: bench.hub.mqttUrl, devices, perDevice: PER_DEVICE, window: WINDOW, baseTs })
    const rate = load.acked / ((load.endedAt - load.startedAt) / 1000)
    const [{ rows, keys }] = await bench.hub.database.rows<{ rows: number, keys: number }>(sql`
      select count(*)::int as rows, count(distinct (device_id, ts, seq))::int as keys from telemetry`)
    // Every acknowledged message has its own (device, ts, seq): stored must equal acked.
    return { rate, acked: load.acked, stored: rows, lost: Math.max(0, load.acked - keys), duplicated: rows - keys, driver: bench.hub.database.driver }
  } finally {
    await bench.close()
  }
}

const bare = await bareAedes()
const durable = await hub()
console.log(JSON.stringify({
  bench: 'durable-ingest',
  devices: DEVICES,
  messages: DEVICES * PER_DEVICE,
  window: WINDOW,
  database: durable.driver,
  bareAedesRate: Math.round(bare.rate),
  bareAedesDelivered: bare.delivered,
  hubRate: Math.round(durable.rate),
  ratio: Number((durable.rate / bare.rate).toFixed(3)),
  acked: durable.acked,
  stored: durable.stored,
  lost: durable.lost,
  duplicated: durable.duplicated
}))
