// The simulator against a real hub (startTestHub): provisioning through the API, connections, telemetry
// the hub stores, notifications the hub's verifier accepts, acknowledgements, faults and worker processes.
import { join } from 'node:path'
import t from 'tap'
import { verifyNotification } from '../../esim/notification-verifier.ts'
import { parseTelemetry } from '../../protocol/telemetry.ts'
import { runCli } from '../../device-sim/commands.ts'
import { SimEngine } from '../../device-sim/engine.ts'
import type { EngineOptions } from '../../device-sim/engine.ts'
import { loadFleet } from '../../device-sim/fleet-file.ts'
import type { Fleet } from '../../device-sim/fleet-file.ts'
import { HubApi } from '../../device-sim/hub-api.ts'
import { parseOptions } from '../../device-sim/options.ts'
import { provisionFleet } from '../../device-sim/provisioning.ts'
import { Random } from '../../device-sim/random.ts'
import type { RunSummary, TickInfo } from '../../device-sim/report.ts'
import { createSimPki, savePki } from '../../device-sim/sim-pki.ts'
import type { SimPki } from '../../device-sim/sim-pki.ts'
import { loopbackSourceAddresses, WorkerPool } from '../../device-sim/worker-pool.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import type { TestHub } from '../helpers/test-hub.ts'
import { tapHub } from './sim-harness.ts'

// Waits here scale with the machine: each goes on while the fleet makes progress (a loaded machine takes
// long to start processes and connect hundreds of devices), and fails after 30 s without any.
const progressOf = (read: () => unknown) => ({ timeoutMs: 30_000, progress: read })
const CONNACK_WAIT_MS = 300_000

const COUNT = 200
const derOf = (payload: Buffer) => new Uint8Array(Buffer.from(JSON.parse(payload.toString()).pendingNotification, 'base64'))

t.test(`${COUNT} devices through the CLI: created, connected, telemetry stored, notifications signed, verified and acknowledged`, async (t) => {
  // The PKI exists before the hub starts, so the hub can trust its CI from HUB_EUICC_TRUST_DIR (the
  // simulator also registers it through the API when it creates the devices).
  const dir = t.testdir()
  const fleetPath = join(dir, 'fleet.json')
  const pkiPath = join(dir, 'pki.json')
  const pki = createSimPki()
  await savePki(pkiPath, pki)
  await runCli(parseOptions(['pki', '--pki', pkiPath], {}), { stdout: () => {}, stderr: () => {}, stderrIsTty: false })
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: join(dir, 'trust') } })
  const received = tapHub(hub)

  const options = parseOptions(['--count', String(COUNT), '--connrate', '400', '--interval', '500ms', '--duration', '10m', '--seed', '1',
    '--api-url', hub.httpUrl, '--email', hub.admin.email, '--password', hub.admin.password,
    '--fleet', fleetPath, '--pki', pkiPath, '--json'], {})
  // A loaded machine verifies 200 passwords slowly: the devices wait for their CONNACK as long as it takes
  // (a device that gave up would count a connection failure).
  options.connectTimeoutMs = CONNACK_WAIT_MS
  let engine: SimEngine | null = null
  let summary: RunSummary | null = null
  const stdout: string[] = []
  const stderr: string[] = []
  const finished = runCli(options, {
    stdout: (s) => stdout.push(s),
    stderr: (s) => stderr.push(s),
    stderrIsTty: false,
    onRunner: (runner) => { engine = runner as SimEngine },
    onSummary: (s) => { summary = s }
  })
  t.teardown(() => (engine as SimEngine | null)?.stop())
  const sim = () => (engine as SimEngine | null)?.snapshot()

  await eventually('every device connected', () => sim()?.everConnected === COUNT, progressOf(() => sim()?.everConnected))
  t.match(stderr.join('\n'), new RegExp(`created ${COUNT} devices on ${hub.httpUrl}`))
  const token = await hub.login()
  t.same((await hub.api(token, 'GET', '/api/fleet/summary')).body, { total: COUNT, online: COUNT, offline: 0 }, 'the hub sees them all online')

  let withTelemetry = 0
  await eventually('telemetry stored for every device', async () => {
    const list = await hub.api(token, 'GET', '/api/devices?limit=1000')
    withTelemetry = list.body.items.filter((d: { latestTelemetry: unknown }) => d.latestTelemetry !== null).length
    return list.body.items.length === COUNT && withTelemetry === COUNT
  }, progressOf(() => withTelemetry))
  await eventually('every notification delivered (PUBACK)', () => sim()?.counters.notificationsDelivered === COUNT, progressOf(() => sim()?.counters.notificationsDelivered))

  // What the hub received verifies under the hub's verifier, against the simulator's CI, with the EID the
  // device was registered with.
  const fleet = await loadFleet(fleetPath)
  t.equal(fleet.devices.length, COUNT)
  const eidOf = new Map(fleet.devices.map((d) => [d.id, d.eid]))
  const notifications = received.all('/notifications')
  t.equal(notifications.length, COUNT, 'one notification per device')
  t.equal(new Set(notifications.map((r) => r.clientId)).size, COUNT)
  let verified = 0
  for (const r of notifications) {
    const result = verifyNotification(derOf(r.payload), { trustAnchors: [pki.ci.certificateDer], expectedEid: eidOf.get(r.clientId)! })
    if (result.ok && result.notification.metadata.operation === 'enable') verified++
    else t.fail(`notification of ${r.clientId}: ${result.ok ? 'not an enable' : result.reason + ' ' + result.detail}`)
  }
  t.equal(verified, COUNT, 'every notification verifies (signature, chain to the CI, EID)')

  // The hub answers each notification on notifications/ack once its pipeline has committed it; the
  // device then drops it. Nobody else answers: a hub that does not ack fails here.
  const answered = () => (sim()?.counters.notificationsAcked ?? 0) + (sim()?.counters.notificationsRejected ?? 0)
  await eventually('the hub answered every notification and the devices removed them', () => answered() === COUNT && sim()?.pendingNotifications === 0, progressOf(answered))
  t.equal(sim()?.counters.notificationsRejected, 0, 'none rejected')

  engine!.stop()
  t.equal(await finished, 0, 'exit code 0')
  t.equal(stdout.length, 1, 'one line on stdout')
  const json = JSON.parse(stdout[0]!)
  t.same(json, JSON.parse(JSON.stringify(summary)))
  if (json.errors.total > 0) t.comment('errors: ' + JSON.stringify(json.errors))
  t.match(json, {
    devices: COUNT,
    workers: 1,
    stoppedBy: 'request',
    connections: { everConnected: COUNT, connectedAtEnd: COUNT, failures: 0, disconnects: 0 },
    notifications: { created: COUNT, delivered: COUNT, acknowledged: COUNT, pending: 0, rejected: 0, dropped: 0 },
    errors: { total: 0 }
  })
  t.equal(json.messages.acked, json.messages.published, 'every QoS 1 publish was acknowledged')
  t.ok(json.ackLatencyMs.count === json.messages.acked && json.ackLatencyMs.p99 > 0 && json.ackLatencyMs.p50 <= json.ackLatencyMs.p99, 'PUBACK latency percentiles')
  t.equal(json.notifications.ackLatencyMs.count, COUNT)
  t.ok(json.telemetry.samplesSent >= COUNT)

  // The eUICC state went back to the fleet file: nothing pending, sequence numbers move on next time.
  const after = await loadFleet(fleetPath)
  t.ok(after.devices.every((d) => d.pendingNotifications.length === 0 && d.nextSeqNumber === 2))

  // One device's telemetry as stored: consecutive sequence numbers, valid samples of a Myanmar network.
  const one = fleet.devices[0]!
  const stored = await hub.api(token, 'GET', `/api/devices/${one.id}/telemetry?limit=1000`)
  const seqs = stored.body.items.map((i: { seq: number }) => i.seq)
  t.ok(seqs.length >= 1)
  t.same(seqs, seqs.map((_: number, i: number) => i), 'seq 0, 1, 2, … without gaps')
  for (const item of stored.body.items) {
    const parsed = parseTelemetry(Buffer.from(JSON.stringify({ ...item, ts: Date.parse(item.ts) })))
    if (!parsed.ok) t.fail(parsed.detail)
  }
  t.match(stored.body.items[0], { mcc: '414', rat: /^(LTE|LTE-M|NB-IoT|NR)$/ })
})

async function fleetOf (t: { testdir (): string }, hub: TestHub, pki: SimPki, count: number): Promise<Fleet> {
  const api = new HubApi(hub.httpUrl, await hub.login())
  const { fleet } = await provisionFleet({ api, pki, count, fleetPath: join(t.testdir(), 'fleet.json'), rng: new Random(2) })
  return fleet
}

function engineOptions (fleet: Fleet, overrides: Partial<EngineOptions>): EngineOptions {
  return {
    devices: fleet.devices,
    mqttUrl: fleet.mqttUrl!,
    eumCertificate: fleet.eumCertificate,
    eim: fleet.eim,
    connrate: 100,
    intervalMs: 200,
    qos: 1,
    keepaliveSeconds: 30,
    durationMs: 0,
    notifyIntervalMs: 0,
    downloadMs: 50,
    bufferLimit: 1000,
    notificationQueue: 32,
    faults: {},
    seed: 5,
    connectTimeoutMs: CONNACK_WAIT_MS,
    ...overrides
  }
}

t.test('--faults: duplicate and badly signed notifications reach the hub as such', async (t) => {
  const hub = await startTestHub(t)
  const received = tapHub(hub)
  const pki = createSimPki()
  const fleet = await fleetOf(t, hub, pki, 2)
  const engine = new SimEngine(engineOptions(fleet, { faults: { duplicate: 1, 'bad-signature': 1 }, durationMs: 10_000 }))
  const run = engine.run()
  await eventually('notifications delivered', () => engine.stats.counters.notificationsDelivered === 2 && received.all('/notifications').length === 4, progressOf(() => received.all('/notifications').length))
  for (const r of received.all('/notifications')) {
    t.match(verifyNotification(derOf(r.payload), { trustAnchors: [pki.ci.certificateDer] }), { ok: false, reason: 'bad-signature' })
  }
  engine.stop()
  t.match(await run, { notifications: { created: 2, sent: 4, delivered: 2 }, stoppedBy: 'request' })
})

t.test('--workers spreads the devices over processes and merges their reports', async (t) => {
  const hub = await startTestHub(t)
  const fleet = await fleetOf(t, hub, createSimPki(), 6)
  const pool = new WorkerPool(engineOptions(fleet, { tickMs: 100 }), 2, loopbackSourceAddresses(fleet.mqttUrl!, 2, 3))
  t.teardown(() => pool.stop())
  const ticks: TickInfo[] = []
  pool.on('tick', (tick) => ticks.push(tick))
  const run = pool.run()
  // The run lasts until the merged ticks show every device connected and its notification delivered and
  // answered (this hub does not trust the fleet's CI: rejected), however long the workers take to start.
  const last = () => ticks.at(-1)
  await eventually('every device connected, its notification delivered and answered', () => {
    const tick = last()
    return tick !== undefined && tick.connected === 6 && tick.counters.notificationsDelivered === 6 && tick.counters.notificationsAcked + tick.counters.notificationsRejected === 6
  }, { timeoutMs: 120_000 }).catch((err: Error) => { throw new Error(`${err.message}; last tick ${JSON.stringify(last())}`) }) // the worker processes report nothing while they start
  pool.stop()
  const summary = await run
  t.match(summary, { devices: 6, workers: 2, stoppedBy: 'request', connections: { everConnected: 6, connectedAtEnd: 6 }, notifications: { created: 6, delivered: 6 }, errors: { total: 0 } })
  t.ok(summary.ackLatencyMs.count > 0 && summary.messages.acked === summary.messages.published)
  t.ok(ticks.length > 0, 'merged ticks while running')
  t.equal(pool.states().length, 6)
  t.equal(pool.states().filter((d) => d.nextSeqNumber === 2).length, 6, 'each worker handed back its devices')
  const token = await hub.login()
  const list = await hub.api(token, 'GET', '/api/devices?limit=100')
  t.ok(list.body.items.every((d: { latestTelemetry: unknown }) => d.latestTelemetry !== null), 'telemetry from both workers stored')
})

t.test('--workers with --duration: the run ends by itself, the duration counted from when the workers run', async (t) => {
  const hub = await startTestHub(t)
  const fleet = await fleetOf(t, hub, createSimPki(), 2)
  const pool = new WorkerPool(engineOptions(fleet, { durationMs: 500 }), 2, loopbackSourceAddresses(fleet.mqttUrl!, 2, 1))
  t.teardown(() => pool.stop())
  let startedAt = 0
  pool.on('start', () => { startedAt = performance.now() })
  const summary = await pool.run()
  t.match(summary, { devices: 2, workers: 2, stoppedBy: 'duration', errors: { total: 0 } })
  t.ok(performance.now() - startedAt >= 500, 'not before the duration')
  t.equal(pool.states().length, 2, 'each worker handed back its devices')
})

t.test('source addresses for loopback hubs', async (t) => {
  t.same(loopbackSourceAddresses('mqtt://127.0.0.1:1883', 3, 100, 'linux'), [['127.0.0.1'], ['127.0.0.2'], ['127.0.0.3']])
  t.same(loopbackSourceAddresses('mqtt://127.0.0.1:1883', 2, 50_000, 'linux'), [['127.0.0.1', '127.0.0.3'], ['127.0.0.2', '127.0.0.4']])
  t.equal(loopbackSourceAddresses('mqtt://hub.example.com:1883', 2, 10, 'linux'), null)
  t.equal(loopbackSourceAddresses('mqtt://127.0.0.1:1883', 2, 10, 'darwin'), null)
  t.equal(loopbackSourceAddresses('mqtt://[::1]:1883', 2, 10, 'linux'), null)
})
