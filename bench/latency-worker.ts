import { request } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'
import { build } from 'hdr-histogram-js'
import mqtt, { type MqttClient } from 'mqtt'

/** The publish→SSE latency load generator, in a worker thread (its own event loop) holding both ends:
 * MQTT.js devices publish QoS 1 telemetry at `ratePerSecond` in all (paced every few ms, round robin),
 * each sample's `uptime` set to this thread's `performance.now()` in microseconds at the publish; one
 * SSE client (`GET /api/events?ticket=…`) reads the `telemetry` events and takes, in the same clock,
 * now − the sample's uptime. Samples sent in the first `warmupMs` are not counted. */
export interface LatencySpec {
  mqttUrl: string
  sseUrl: string
  devices: Array<{ clientId: string, username: string, password: string, topic: string }>
  ratePerSecond: number
  seconds: number
  warmupMs: number
  /** Seq numbers start here (above those of earlier loads of the same devices). */
  seqBase: number
}

export interface LatencyResult {
  sent: number
  acked: number
  received: number
  counted: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
  achievedRate: number
}

function openSse (url: string, onEvent: (type: string, data: string) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`GET /api/events answered ${String(res.statusCode)}`)); return }
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let type = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data !== '') onEvent(type, data)
        }
      })
      res.on('error', () => {})
      resolve(() => req.destroy())
    })
    req.on('error', reject)
    req.end()
  })
}

async function run (spec: LatencySpec): Promise<LatencyResult> {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
  const clients: MqttClient[] = await Promise.all(spec.devices.map((d) => mqtt.connectAsync(spec.mqttUrl, { clientId: d.clientId, username: d.username, password: d.password, reconnectPeriod: 1000, clean: false })))
  let received = 0
  let counted = 0
  let countFromUs = Infinity
  const close = await openSse(spec.sseUrl, (type, data) => {
    if (type !== 'telemetry') return
    const sample = JSON.parse(data) as { uptime?: number, seq?: number }
    if (sample.uptime === undefined || (sample.seq ?? 0) < spec.seqBase) return
    received++
    if (sample.uptime < countFromUs) return
    counted++
    histogram.recordValue(Math.max(1, Math.round(performance.now() * 1000 - sample.uptime)))
  })
  // Let the stream settle (its first write) before the load starts.
  await new Promise((resolve) => setTimeout(resolve, 200))
  let sent = 0
  let acked = 0
  let next = 0
  const startedAt = performance.now()
  countFromUs = (startedAt + spec.warmupMs) * 1000
  const endAt = startedAt + spec.seconds * 1000
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      const due = Math.min(Math.floor(((Math.min(now, endAt) - startedAt) / 1000) * spec.ratePerSecond), Math.floor(spec.seconds * spec.ratePerSecond))
      while (sent < due) {
        const i = next++ % clients.length
        const seq = spec.seqBase + sent++
        const uptime = Math.round(performance.now() * 1000)
        clients[i].publish(spec.devices[i].topic, JSON.stringify({ ts: Date.now(), seq, uptime, rsrp: -90 - (seq % 20), rsrq: -10, sinr: 12, rat: 'LTE', battery: 80 }), { qos: 1 }, (err) => { if (err === undefined || err === null) acked++ })
      }
      if (now >= endAt) resolve()
      else setTimeout(tick, 2)
    }
    tick()
  })
  const sendEnded = performance.now()
  const deadline = Date.now() + 10_000
  const done = (): boolean => received >= sent && acked >= sent
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  close()
  await Promise.all(clients.map((c) => c.endAsync()))
  const ms = (us: number): number => Number((us / 1000).toFixed(2))
  return {
    sent,
    acked,
    received,
    counted,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
    meanMs: ms(histogram.mean),
    achievedRate: Math.round(sent / ((sendEnded - startedAt) / 1000))
  }
}

if (parentPort !== null) {
  run(workerData as LatencySpec).then((result) => parentPort?.postMessage(result), (err: Error) => parentPort?.postMessage({ error: err.message }))
}
