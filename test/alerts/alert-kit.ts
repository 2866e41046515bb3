// What the alert, webhook and usage tests share: a hub with fast evaluation and delivery timing, devices
// over real MQTT, and a real HTTP receiver for webhooks.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub, throwawayDatabase, type DeviceCredentials, type Teardown, type TestHub } from '../helpers/test-hub.ts'

/** Evaluation every 50 ms, a sweep every 200 ms; webhook retries from 100 ms, capped at 400 ms. */
export const FAST = {
  evaluator: { batchMs: 50, sweepMs: 200 },
  webhooks: { pollMs: 100, retryBaseMs: 100, retryMaxMs: 400, timeoutMs: 3000 }
}

/** A test hub with FAST timing, webhooks allowed to reach this host (HUB_WEBHOOK_ALLOW_PRIVATE=1). */
export async function startAlertHub (t: Teardown, env: Record<string, string> = {}): Promise<TestHub> {
  return await startTestHub(t, { alerts: FAST, env: { HUB_WEBHOOK_ALLOW_PRIVATE: '1', ...env } })
}

export async function connectDevice (t: Teardown, hub: TestHub, credentials: DeviceCredentials): Promise<MqttClient> {
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0, connectTimeout: 30_000 })
  t.teardown(() => client.endAsync(true))
  return client
}

let seq = 0
/** Publishes telemetry samples (QoS 1: resolves after the hub's commit). `ts` defaults to now. */
export async function publishTelemetry (client: MqttClient, deviceId: string, samples: Array<Record<string, unknown>>): Promise<void> {
  const payload = samples.map((s) => ({ ts: Date.now(), seq: ++seq, ...s }))
  await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify(payload.length === 1 ? payload[0] : payload), { qos: 1 })
}

/** Creates an alert rule (201 expected). */
export async function createRule (hub: TestHub, token: string, rule: Record<string, unknown>): Promise<{ id: string }> {
  const res = await hub.api(token, 'POST', '/api/alert-rules', { severity: 'warning', ...rule })
  if (res.status !== 201) throw new Error('rule creation failed: ' + JSON.stringify(res.body))
  return res.body
}

export async function alerts (hub: TestHub, token: string, query = ''): Promise<any[]> {
  const res = await hub.api(token, 'GET', '/api/alerts?limit=1000' + (query === '' ? '' : '&' + query))
  if (res.status !== 200) throw new Error('alert list failed: ' + JSON.stringify(res.body))
  return res.body.items
}

/** Polls until the device has an alert of the rule in `state`; answers it. */
export async function alertIn (hub: TestHub, token: string, ruleId: string, deviceId: string, state: string): Promise<any> {
  return await eventually(`an alert of rule ${ruleId} for ${deviceId} in state ${state}`, async () =>
    (await alerts(hub, token, `ruleId=${ruleId}&deviceId=${deviceId}`)).find((a) => a.state === state))
}

export interface Received { method: string, url: string, headers: IncomingHttpHeaders, body: string, answered: number }

/** A real HTTP receiver on 127.0.0.1: records every request (raw body kept) and answers `status()`. */
export async function startReceiver (t: Teardown, status: (request: Received) => number = () => 200) {
  const received: Received[] = []
  let open = 0
  let maxOpen = 0
  const server = createServer((req, res) => {
    open++
    maxOpen = Math.max(maxOpen, open)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const entry: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: 0 }
      entry.answered = status(entry)
      received.push(entry)
      res.writeHead(entry.answered, { 'content-type': 'text/plain' }).end(entry.answered < 300 ? 'ok' : 'not now')
    })
    res.on('close', () => { open-- })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const port = (server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${port}/hook`, received, maxOpen: () => maxOpen, server }
}

/** A database two hubs can open one after the other: a fresh one on DATABASE_URL's server, or a PGlite
 * directory (an in-memory PGlite dies with its hub). */
export async function restartableDatabase (t: Teardown): Promise<string> {
  if (process.env.DATABASE_URL !== undefined && !process.env.DATABASE_URL.startsWith('pglite://')) return await throwawayDatabase(t)
  const dir = mkdtempSync(join(tmpdir(), 'hub-alerts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return `pglite://${dir}`
}
