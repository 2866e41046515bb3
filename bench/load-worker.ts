import { parentPort, workerData } from 'node:worker_threads'
import mqtt, { type MqttClient } from 'mqtt'

/** Runs in a worker thread so the load has its own event loop: `devices` MQTT.js clients each publish
 * `perDevice` QoS 1 telemetry messages with at most `window` unacknowledged, and report what was acked. */
export interface LoadSpec {
  url: string
  /** `payloads`, when given, are published in order instead of generated telemetry. */
  devices: Array<{ clientId: string, username: string, password: string, topic: string, payloads?: string[] }>
  perDevice: number
  window: number
  baseTs: number
  /** Keep the connections open after publishing until the parent says `release` (to measure them). */
  hold?: boolean
}

export interface LoadResult { acked: number, failed: number, startedAt: number, endedAt: number, connectMs: number }

async function publishAll (client: MqttClient, topic: string, perDevice: number, window: number, baseTs: number, payloads?: string[]): Promise<number> {
  let next = 0
  let acked = 0
  await new Promise<void>((resolve, reject) => {
    const sendOne = (): void => {
      if (next >= perDevice) return
      const seq = next++
      const payload = payloads?.[seq] ?? JSON.stringify({ ts: baseTs + seq, seq, rsrp: -90 - (seq % 20), rsrq: -10, sinr: 12, rat: 'LTE', battery: 80 })
      client.publish(topic, payload, { qos: 1 }, (err) => {
        if (err !== undefined && err !== null) { reject(err); return }
        acked++
        if (acked === perDevice) resolve()
        else sendOne()
      })
    }
    for (let i = 0; i < window; i++) sendOne()
  })
  return acked
}

async function run (spec: LoadSpec): Promise<LoadResult> {
  const t0 = Date.now()
  const clients = await Promise.all(spec.devices.map((d) => mqtt.connectAsync(spec.url, { clientId: d.clientId, username: d.username, password: d.password, reconnectPeriod: 1000, clean: false })))
  const connectMs = Date.now() - t0
  const startedAt = Date.now()
  const counts = await Promise.all(clients.map((c, i) => publishAll(c, spec.devices[i].topic, spec.perDevice, spec.window, spec.baseTs, spec.devices[i].payloads)))
  const endedAt = Date.now()
  if (spec.hold === true) {
    await new Promise<void>((resolve) => {
      parentPort?.once('message', () => resolve())
      parentPort?.postMessage({ phase: 'holding' })
    })
  }
  await Promise.all(clients.map((c) => c.endAsync()))
  const acked = counts.reduce((a, b) => a + b, 0)
  return { acked, failed: spec.devices.length * spec.perDevice - acked, startedAt, endedAt, connectMs }
}

if (parentPort !== null) {
  run(workerData as LoadSpec).then((result) => parentPort?.postMessage(result), (err: Error) => parentPort?.postMessage({ error: err.message }))
}
