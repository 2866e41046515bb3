// What each device-sim command does, behind the thin cli.ts: make sure there is a PKI and a fleet of
// devices on the hub (creating what is missing), run them, report, and save the eUICC state back.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { SimEngine } from './engine.ts'
import type { EngineOptions, LoadRunner } from './engine.ts'
import { loadFleetIfExists, saveFleet } from './fleet-file.ts'
import type { Fleet } from './fleet-file.ts'
import { HubApi } from './hub-api.ts'
import { HELP } from './options.ts'
import type { CliOptions } from './options.ts'
import { provisionFleet } from './provisioning.ts'
import { Random } from './random.ts'
import { formatProgress, formatSummary } from './report.ts'
import type { RunSummary, TickInfo } from './report.ts'
import { certificatePem, createSimPki, loadOrCreatePki, loadPki, savePki } from './sim-pki.ts'
import type { SimPki } from './sim-pki.ts'
import { loopbackSourceAddresses, WorkerPool } from './worker-pool.ts'

export interface CommandIo {
  stdout (text: string): void
  stderr (text: string): void
  /** Progress is redrawn in place on a terminal, printed every 10 s otherwise. */
  stderrIsTty: boolean
  /** Aborts provisioning (Ctrl-C before the run starts). */
  signal?: AbortSignal
  /** Receives the runner as soon as it exists: the CLI stops it on Ctrl-C, tests watch it. */
  onRunner? (runner: LoadRunner): void
  /** Receives the summary object (the CLI prints it; tests inspect it). */
  onSummary? (summary: RunSummary): void
}

/** A problem the user can fix by changing the command line. */
export class UsageError extends Error {
  readonly code = 'SIM_ERR_USAGE'
  override readonly name = 'UsageError'
}

const DEFAULT_API_URL = 'http://127.0.0.1:8080'
const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'

export async function runCli (options: CliOptions, io: CommandIo): Promise<number> {
  switch (options.command) {
    case 'help':
      io.stdout(HELP)
      return 0
    case 'pki':
      return await pkiCommand(options, io)
    case 'provision': {
      const { fleet, created } = await ensureFleet(options, io)
      io.stdout(`${options.fleet}: ${fleet.devices.length} devices of ${fleet.httpUrl ?? '?'} (${created} created now), MQTT ${fleet.mqttUrl ?? '?'}`)
      return 0
    }
    case 'run':
      return await runCommand(options, io)
  }
}

/** A HubApi when credentials were given, else null. */
async function connectApi (options: CliOptions, apiUrl: string): Promise<HubApi | null> {
  if (options.apiKey !== undefined) return new HubApi(apiUrl, options.apiKey)
  if (options.email !== undefined && options.password !== undefined) return await HubApi.login(apiUrl, options.email, options.password)
  return null
}

/** The CI as a PEM file of its own, for a hub's HUB_EUICC_TRUST_DIR. */
async function writeTrustFile (pkiPath: string, pki: SimPki): Promise<string> {
  const path = join(dirname(pkiPath), 'trust', 'device-sim-ci.pem')
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, certificatePem(pki.ci.certificateDer))
  return path
}

async function registerCi (api: HubApi, pki: SimPki, trustFile: string, io: CommandIo): Promise<void> {
  const outcome = await api.registerTrustAnchor(certificatePem(pki.ci.certificateDer))
  if (outcome === 'unsupported') {
    io.stderr(`device-sim: ${api.baseUrl} has no trust-anchor API (POST /api/euicc/trust-anchors); for notifications to verify, ` +
      `give the hub the CI in ${trustFile} (HUB_EUICC_TRUST_DIR=${dirname(trustFile)})`)
  } else {
    io.stderr(`device-sim: the CI in ${trustFile} is ${outcome === 'registered' ? 'registered' : 'already registered'} as a trust anchor of ${api.baseUrl}`)
  }
}

async function pkiCommand (options: CliOptions, io: CommandIo): Promise<number> {
  let pki: SimPki
  let created = false
  if (existsSync(options.pki) && !options.force) {
    pki = await loadPki(options.pki)
  } else {
    pki = createSimPki({ curve: options.curve, eumPrefix: options.eumPrefix })
    await savePki(options.pki, pki)
    created = true
  }
  const trustFile = await writeTrustFile(options.pki, pki)
  const fingerprint = createHash('sha256').update(pki.ci.certificateDer).digest('hex')
  io.stdout([
    `${created ? 'created' : 'using'} ${options.pki} (private keys; keep it private)`,
    `  CI      device-sim Test CI, ${pki.curve}, SHA-256 ${fingerprint}`,
    `  EUM     ${pki.organisation}, EIDs ${pki.eumPrefix}…`,
    `  trust   ${trustFile} (for HUB_EUICC_TRUST_DIR, or --register)`
  ].join('\n'))
  if (options.register) {
    const api = await connectApi(options, options.apiUrl ?? DEFAULT_API_URL)
    if (api === null) throw new UsageError('--register needs --email and --password, or --api-key')
    await registerCi(api, pki, trustFile, io)
  }
  return 0
}

/** The PKI and a fleet file with at least the wanted number of devices, created on the hub if needed. */
export async function ensureFleet (options: CliOptions, io: CommandIo): Promise<{ fleet: Fleet, pki: SimPki, created: number, wanted: number }> {
  const { pki, created: pkiCreated } = await loadOrCreatePki(options.pki, { curve: options.curve, eumPrefix: options.eumPrefix })
  const trustFile = await writeTrustFile(options.pki, pki)
  if (pkiCreated) io.stderr(`device-sim: created a test PKI in ${options.pki}; its CI is in ${trustFile}`)
  const existing = await loadFleetIfExists(options.fleet)
  const have = existing?.devices.length ?? 0
  const wanted = options.count ?? (have > 0 ? have : 10)
  if (existing !== null && have >= wanted) {
    // A hub that gained an eIM since the devices were created: learn its key for SGP.32 packages.
    if (existing.eim === null && (options.apiKey !== undefined || options.email !== undefined)) {
      const api = await connectApi(options, options.apiUrl ?? existing.httpUrl ?? DEFAULT_API_URL).catch(() => null)
      existing.eim = await api?.eim().catch(() => null) ?? null
    }
    return { fleet: existing, pki, created: 0, wanted }
  }

  const apiUrl = options.apiUrl ?? existing?.httpUrl ?? DEFAULT_API_URL
  const api = await connectApi(options, apiUrl)
  if (api === null) {
    throw new UsageError(`${options.fleet} holds ${have} devices and ${wanted} are wanted: give --email and --password ` +
      `(or --api-key) so device-sim can create the other ${wanted - have} on ${apiUrl}`)
  }
  if (have === 0) await registerCi(api, pki, trustFile, io)
  const progress = (done: number, total: number) => {
    if (io.stderrIsTty) io.stderr(`\rdevice-sim: creating devices ${done}/${total}` + (done === total ? '\n' : ''))
  }
  const { fleet, created } = await provisionFleet({
    api,
    fleetPath: options.fleet,
    pki,
    count: wanted,
    esimAgent: options.agent,
    tags: options.tags,
    namePrefix: options.namePrefix,
    ...(options.seed === undefined ? {} : { rng: new Random(options.seed) }),
    onProgress: progress,
    ...(io.signal === undefined ? {} : { signal: io.signal })
  })
  if (!io.stderrIsTty) io.stderr(`device-sim: created ${created} devices on ${api.baseUrl}; credentials in ${options.fleet}`)
  if (fleet.devices.length < wanted) throw new UsageError(`stopped after creating ${created} devices; ${fleet.devices.length} are in ${options.fleet}`)
  return { fleet, pki, created, wanted }
}

/** Source addresses per worker (null: let the system choose). */
function sourceAddresses (options: CliOptions, mqttUrl: string, workers: number, devices: number): string[][] | null {
  if (options.sourceIps === 'none') return null
  if (options.sourceIps === 'auto') {
    return workers > 1 || devices > 25_000 ? loopbackSourceAddresses(mqttUrl, workers, Math.ceil(devices / workers)) : null
  }
  const ips = options.sourceIps
  return Array.from({ length: workers }, (_, w) => ips.length < workers ? [ips[w % ips.length]!] : ips.filter((_, i) => i % workers === w))
}

export async function runCommand (options: CliOptions, io: CommandIo): Promise<number> {
  const { fleet, wanted } = await ensureFleet(options, io)
  const devices = fleet.devices.slice(0, wanted)
  const mqttUrl = options.url ?? fleet.mqttUrl ?? DEFAULT_MQTT_URL
  let ca: string | undefined
  if (options.ca !== undefined) {
    try { ca = readFileSync(options.ca, 'utf8') } catch (err) { throw new UsageError(`--ca ${options.ca}: ${(err as Error).message}`) }
  }
  const engineOptions: EngineOptions = {
    devices,
    mqttUrl,
    eumCertificate: fleet.eumCertificate,
    eim: fleet.eim,
    connrate: options.connrate,
    intervalMs: options.intervalMs,
    qos: options.qos,
    keepaliveSeconds: options.keepaliveSeconds,
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    durationMs: options.durationMs,
    notifyIntervalMs: options.notifyIntervalMs,
    downloadMs: options.downloadMs,
    bufferLimit: options.bufferLimit,
    notificationQueue: options.notificationQueue,
    faults: options.faults,
    carriers: options.carriers,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(ca === undefined && !options.insecure ? {} : { tls: { rejectUnauthorized: !options.insecure, ...(ca === undefined ? {} : { ca }) } })
  }
  const workers = Math.min(options.workers, devices.length)
  const addresses = sourceAddresses(options, mqttUrl, workers, devices.length)
  const runner: LoadRunner = workers > 1
    ? new WorkerPool(engineOptions, workers, addresses)
    : new SimEngine({ ...engineOptions, ...(addresses === null ? {} : { sourceAddresses: addresses[0] }) })

  let lastPrinted = 0
  let drawn = false
  if (!options.quiet) {
    runner.on('start', (s) => io.stderr(`device-sim: ${s.devices} devices${s.workers > 1 ? ` in ${s.workers} workers` : ''} → ${s.mqttUrl}; Ctrl-C stops\n`))
    runner.on('tick', (tick: TickInfo) => {
      if (io.stderrIsTty) {
        io.stderr('\r\x1b[2K' + formatProgress(tick))
        drawn = true
      } else if (tick.elapsedMs - lastPrinted >= 10_000) {
        lastPrinted = tick.elapsedMs
        io.stderr(formatProgress(tick) + '\n')
      }
    })
  }
  io.onRunner?.(runner)
  const summary = await runner.run()
  if (drawn) io.stderr('\r\x1b[2K')
  io.onSummary?.(summary)
  io.stdout(options.json ? JSON.stringify(summary) : formatSummary(summary))

  const states = new Map(runner.states().map((d) => [d.id, d]))
  fleet.devices = fleet.devices.map((d) => states.get(d.id) ?? d)
  await saveFleet(options.fleet, fleet)
  return summary.connections.everConnected === 0 ? 1 : 0
}
