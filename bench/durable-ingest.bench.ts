import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import { benchDatabases, startBenchHub } from './bench-hub.ts'
import { missingCheck, printLine, ratioCheck } from './bench-line.ts'
import { mosquittoBinary, startMosquitto } from './mosquitto.ts'
import { runLoad } from './run-load.ts'

/** Durable ingest: the same QoS 1 load (DEVICES clients, PER_DEVICE messages each, at most WINDOW
 * unacknowledged) against bare Aedes and bare Mosquitto (each passing it to one QoS 1 ingest subscriber)
 * and against the hub (each PUBACK after the commit), on each database of BENCH_DATABASES, the two
 * references measured again just before each hub run. One JSON line per database. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 100)
const PER_DEVICE = Number(process.env.BENCH_PER_DEVICE ?? 600)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20)
const TARGET_AEDES = 1.0
const TARGET_MOSQUITTO = 0.5

interface PassThrough { rate: number, delivered: number }

/** Pushes the load through a bare broker at `url` to one QoS 1 subscriber; the rate counts until the
 * last delivery (or the last PUBACK, if later). */
async function passThrough (url: string, devices = DEVICES, perDevice = PER_DEVICE, window = WINDOW): Promise<PassThrough> {
  const total = devices * perDevice
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
  const clients = Array.from({ length: devices }, (_, i) => ({ clientId: `d${i}`, username: `d${i}`, password: 'x', topic: `devices/d${i}/telemetry` }))
  const load = await runLoad({ url, devices: clients, perDevice, window, baseTs: Date.now() })
  await Promise.race([allDelivered, new Promise((resolve) => setTimeout(resolve, 10_000))])
  await subscriber.endAsync()
  return { rate: delivered / ((Math.max(lastAt, load.endedAt) - load.startedAt) / 1000), delivered }
}

async function bareAedes (devices = DEVICES, perDevice = PER_DEVICE, window = WINDOW): Promise<PassThrough> {
  const broker = await Aedes.createBroker()
  const server = createServer((socket) => broker.handle(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    return await passThrough(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, devices, perDevice, window)
  } finally {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    server.close()
  }
}

async function bareMosquitto (bin: string): Promise<PassThrough & { version: string }> {
  const mosquitto = await startMosquitto(bin)
  try {
    return { ...await passThrough(mosquitto.url), version: mosquitto.version }
  } finally {
    await mosquitto.stop()
  }
}

async function hub (serverUrl: string | undefined): Promise<{ rate: number, acked: number, stored: number, lost: number, duplicated: number, driver: string }> {
  const bench = await startBenchHub({}, serverUrl)
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

{
  const bin = mosquittoBinary()
  for (const database of await benchDatabases()) {
    const details = { devices: DEVICES, messages: DEVICES * PER_DEVICE, window: WINDOW, database: database.name }
    if (database.unavailable !== undefined) {
      printLine('durable-ingest', { ...details, skipped: database.unavailable }, [])
      continue
    }
    const aedes = await bareAedes()
    const mosquitto = bin === null ? null : await bareMosquitto(bin)
    const durable = await hub(database.serverUrl)
    const checks = [
      ratioCheck('hubRate', durable.rate, 'msg/s', 'bare Aedes → 1 QoS 1 subscriber', aedes.rate, TARGET_AEDES),
      mosquitto === null
        ? missingCheck('hubRate', 'msg/s', 'bare Mosquitto → 1 QoS 1 subscriber', TARGET_MOSQUITTO, 'no mosquitto binary (PATH, /usr/sbin, MOSQUITTO_BIN)')
        : ratioCheck('hubRate', durable.rate, 'msg/s', 'bare Mosquitto → 1 QoS 1 subscriber', mosquitto.rate, TARGET_MOSQUITTO)
    ]
    const exact = durable.lost === 0 && durable.duplicated === 0 && durable.stored === durable.acked && durable.acked === DEVICES * PER_DEVICE
    printLine('durable-ingest', {
      ...details,
      hubRate: Math.round(durable.rate),
      bareAedesRate: Math.round(aedes.rate),
      bareAedesDelivered: aedes.delivered,
      ratio: Number((durable.rate / aedes.rate).toFixed(3)),
      ...(mosquitto === null
        ? { mosquitto: 'absent: no mosquitto binary found' }
        : { mosquittoVersion: mosquitto.version, bareMosquittoRate: Math.round(mosquitto.rate), bareMosquittoDelivered: mosquitto.delivered, mosquittoRatio: Number((durable.rate / mosquitto.rate).toFixed(3)) }),
      acked: durable.acked,
      stored: durable.stored,
      lost: durable.lost,
      duplicated: durable.duplicated,
      exactlyOnce: exact
    }, [...checks, { metric: 'lost+duplicated', value: durable.lost + durable.duplicated + (durable.acked - durable.stored), unit: 'messages', target: 0, kind: 'atMost', score: exact ? 1 : 0, pass: exact }])
  }
}
