// Command-line options of device-sim (emqtt-bench's names where they fit), validated up front: every bad
// value is reported at once with what would be accepted.
import { parseArgs } from 'node:util'
import { CARRIER_KEYS } from './carriers.ts'
import { parseFaults } from './faults.ts'
import type { Faults } from './faults.ts'
import type { EsimAgent } from './fleet-file.ts'

export type Command = 'run' | 'provision' | 'pki' | 'help'

export interface CliOptions {
  command: Command
  /** MQTT URL; undefined = the one the hub gave at provisioning, else mqtt://127.0.0.1:1883. */
  url: string | undefined
  apiUrl: string | undefined
  email: string | undefined
  password: string | undefined
  apiKey: string | undefined
  fleet: string
  pki: string
  /** undefined = the devices in the fleet file, or 10 for a new one. */
  count: number | undefined
  connrate: number
  intervalMs: number
  qos: 0 | 1
  durationMs: number
  notifyIntervalMs: number
  downloadMs: number
  faults: Faults
  workers: number
  sourceIps: 'auto' | 'none' | string[]
  keepaliveSeconds: number
  /** How long a device waits for its CONNACK (no flag: 15 s; tests on a loaded machine wait longer). */
  connectTimeoutMs?: number
  bufferLimit: number
  notificationQueue: number
  agent: EsimAgent
  carriers: string[]
  tags: string[]
  namePrefix: string
  seed: number | undefined
  ca: string | undefined
  insecure: boolean
  json: boolean
  quiet: boolean
  curve: 'P-256' | 'brainpoolP256r1'
  eumPrefix: string
  register: boolean
  force: boolean
}

export class OptionsError extends Error {
  readonly code = 'SIM_ERR_OPTIONS'
  override readonly name = 'OptionsError'
  constructor (readonly problems: string[]) {
    super('invalid options:\n' + problems.map((p) => '  - ' + p).join('\n'))
  }
}

export const DEFAULT_FLEET_FILE = 'data/device-sim/fleet.json'
export const DEFAULT_PKI_FILE = 'data/device-sim/pki.json'

export const HELP = `device-sim — simulated cellular devices with eUICCs for euicc-hub: a field technician's test fleet
and an operator's load generator.

Usage
  device-sim [run] [options]      provision devices if needed, then run them (Ctrl-C stops and reports)
  device-sim provision [options]  only create the devices and write the fleet file
  device-sim pki [options]        create the test PKI (CI → EUM → eUICC) and optionally register the CI
  device-sim help                 this text

Hub and credentials
  -u, --url <url>            MQTT URL of the hub: mqtt://, mqtts://, ws://, wss:// (default: the URL the hub
                             gave when the devices were created, else mqtt://127.0.0.1:1883)
  -a, --api-url <url>        HTTP URL of the hub's API (default http://127.0.0.1:8080)
      --email <email>        account that may create devices (env HUB_ADMIN_EMAIL)
      --password <password>  its password (env HUB_ADMIN_PASSWORD)
      --api-key <key>        or an API key, sent as a Bearer token (env DEVICE_SIM_API_KEY)
  -f, --fleet <file>         device credentials, created or reused (default ${DEFAULT_FLEET_FILE});
                             the devices' eUICC state is saved back to it after a run
      --pki <file>           test PKI with private keys (default ${DEFAULT_PKI_FILE})
      --ca <file>            CA certificate (PEM) to trust for mqtts:// and wss://
      --insecure             do not verify the hub's TLS certificate

Fleet
  -c, --count <n>            devices to run (default: all in the fleet file, or 10); missing ones are created
      --agent <lpa|ipa>      eSIM agent of created devices; ipa devices take SGP.32 packages (default lpa)
      --carriers <list>      operators of the profiles: ${CARRIER_KEYS.join(',')} (default all, Myanmar's)
      --tags <list>          tags of created devices (default device-sim)
      --name-prefix <text>   names of created devices: <prefix>-00001, … (default sim)

Load
  -R, --connrate <n>         new connections per second, 0 = all at once (default 40: under the hub's
                             HUB_CONNECT_RATE_PER_IP of 50 per address; spread with --source-ips)
  -I, --interval <time>      telemetry period per device; a plain number is ms (default 5s)
  -q, --qos <0|1>            telemetry QoS (default 1; notifications, inventory, results are always QoS 1)
  -d, --duration <time>      stop after this long; a plain number is seconds; 0 = until Ctrl-C (default 0)
  -w, --workers <n>          spread the devices over n processes (default 1)
      --source-ips <list>    local addresses to connect from: auto (127.0.0.x per worker when the hub is on
                             127.0.0.0/8 on Linux), none, or a comma list (default auto)
  -k, --keepalive <s>        MQTT keepalive, seconds (default 60)
      --buffer <n>           telemetry samples kept while offline (default 1000)
      --seed <n>             seed for the random behaviour, for repeatable runs

eUICC behaviour
      --notify-interval <time>  a local profile switch with its signed notifications every so often;
                             a plain number is seconds; 0 = only the first notification of a new eUICC (default 0)
      --notification-queue <n>  notifications an eUICC keeps until acknowledged (default 32)
      --download-time <time>    how long a profile download takes (default 3s)
      --faults <list>        inject misbehaviour, each kind[=probability]: bad-signature, duplicate,
                             out-of-order, fail-ops, disconnect (per telemetry interval)

Output
      --json                 print the summary as one JSON line
  -Q, --quiet                no progress line on stderr
  -h, --help                 this text

PKI (device-sim pki)
      --curve <P-256|brainpoolP256r1>  key curve (default P-256)
      --eum-prefix <digits>  EIDs the EUM may issue (default 89049032)
      --register             register the CI with the hub as a trust anchor (needs credentials)
      --force                replace an existing PKI file

Examples
  npm start                                         # a hub on :8080 / :1883; note the admin password
  npm run sim -- --count 200 --email admin@example.com --password '…'
  npm run sim -- --count 5000 --connrate 500 --interval 1s --duration 60 --workers 4 --json
  npm run sim -- --faults bad-signature=0.2,duplicate,disconnect=0.01 --duration 5m
  device-sim pki --register --api-url https://hub.example.com --api-key "$KEY"
`

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Milliseconds of `text` ("500ms", "5s", "2m", "1h"; a plain number is in `plainUnit`), or null. */
export function parseDuration (text: string, plainUnit: 'ms' | 's'): number | null {
  const m = DURATION.exec(text.trim())
  if (m === null) return null
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? plainUnit]!
  return Number.isFinite(ms) && ms <= 365 * 86_400_000 ? Math.round(ms) : null
}

/** No control characters (C0 or DEL), as the hub's name and tag schemas require. */
const printable = (text: string) => [...text].every((ch) => ch.charCodeAt(0) > 0x1f && ch.charCodeAt(0) !== 0x7f)
const list = (text: string) => text.split(',').map((s) => s.trim()).filter((s) => s !== '')

export function parseOptions (argv: readonly string[], env: Record<string, string | undefined> = process.env): CliOptions {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    throw new OptionsError([(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')])
  }
  const { values: v, positionals } = parsed
  const problems: string[] = []

  let command: Command = 'run'
  if (positionals.length > 1) problems.push(`one command at most, got: ${positionals.join(' ')}`)
  if (positionals[0] !== undefined) {
    if (['run', 'provision', 'pki', 'help'].includes(positionals[0])) command = positionals[0] as Command
    else problems.push(`unknown command "${positionals[0]}" (run, provision, pki or help)`)
  }
  if (v.help === true) command = 'help'

  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!/^\d+$/.test(raw.trim()) || n < min || n > max) {
      problems.push(`--${name} ${JSON.stringify(raw)} must be an integer from ${min} to ${max}`)
      return fallback
    }
    return n
  }
  const duration = (name: string, raw: string | undefined, fallback: number, plainUnit: 'ms' | 's', min: number): number => {
    if (raw === undefined) return fallback
    const ms = parseDuration(raw, plainUnit)
    if (ms === null || ms < min) {
      problems.push(`--${name} ${JSON.stringify(raw)} must be a duration like ${plainUnit === 'ms' ? '500 (ms), 500ms, 5s' : '30 (s), 90s, 5m'}${min > 0 ? ` of at least ${min} ms` : ''}`)
      return fallback
    }
    return ms
  }
  const url = (name: string, raw: string | undefined, protocols: string[]): string | undefined => {
    if (raw === undefined) return undefined
    try {
      const u = new URL(raw)
      if (!protocols.includes(u.protocol) || u.hostname === '') throw new Error('protocol')
      return raw
    } catch {
      problems.push(`--${name} ${JSON.stringify(raw)} must be a URL starting with ${protocols.map((p) => p + '//').join(', ')}`)
      return undefined
    }
  }

  const count = v.count === undefined ? undefined : int('count', v.count, 10, 1, 1_000_000)
  const workers = int('workers', v.workers, 1, 1, 64)
  let qos: 0 | 1 = 1
  if (v.qos !== undefined) {
    if (v.qos === '0' || v.qos === '1') qos = Number(v.qos) as 0 | 1
    else problems.push(`--qos ${JSON.stringify(v.qos)} must be 0 or 1 (the hub's contract has no QoS 2)`)
  }
  let faults: Faults = {}
  if (v.faults !== undefined) {
    try { faults = parseFaults(v.faults) } catch (err) { problems.push(`--faults: ${(err as Error).message}`) }
  }
  let sourceIps: CliOptions['sourceIps'] = 'auto'
  if (v['source-ips'] !== undefined) {
    const raw = v['source-ips'].trim()
    if (raw === 'auto' || raw === 'none') sourceIps = raw
    else {
      const ips = list(raw)
      const bad = ips.filter((ip) => !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && !ip.includes(':'))
      if (ips.length === 0 || bad.length > 0) problems.push(`--source-ips must be auto, none or a comma list of IP addresses (bad: ${bad.join(', ') || 'empty'})`)
      else sourceIps = ips
    }
  }
  let agent: EsimAgent = 'lpa'
  if (v.agent !== undefined) {
    if (v.agent === 'lpa' || v.agent === 'ipa') agent = v.agent
    else problems.push(`--agent ${JSON.stringify(v.agent)} must be lpa or ipa`)
  }
  let carriers = [...CARRIER_KEYS]
  if (v.carriers !== undefined) {
    const keys = list(v.carriers.toLowerCase())
    const unknown = keys.filter((k) => !CARRIER_KEYS.includes(k))
    if (keys.length === 0 || unknown.length > 0) problems.push(`--carriers: unknown ${unknown.join(', ') || '(empty)'}; known: ${CARRIER_KEYS.join(', ')}`)
    else carriers = keys
  }
  const tags = v.tags === undefined ? ['device-sim'] : list(v.tags)
  if (tags.length > 32 || tags.some((t) => t.length > 64 || !printable(t))) problems.push('--tags: at most 32 tags of up to 64 printable characters')
  const namePrefix = v['name-prefix'] ?? 'sim'
  if (namePrefix.length < 1 || namePrefix.length > 150 || !printable(namePrefix)) problems.push('--name-prefix must be 1–150 printable characters')
  let curve: CliOptions['curve'] = 'P-256'
  if (v.curve !== undefined) {
    if (v.curve === 'P-256' || v.curve === 'brainpoolP256r1') curve = v.curve
    else problems.push(`--curve ${JSON.stringify(v.curve)} must be P-256 or brainpoolP256r1`)
  }
  const eumPrefix = v['eum-prefix'] ?? '89049032'
  if (!/^89\d{2,18}$/.test(eumPrefix)) problems.push(`--eum-prefix ${JSON.stringify(eumPrefix)} must be 4–20 digits starting with 89`)
  const seed = v.seed === undefined ? undefined : int('seed', v.seed, 0, 0, 2 ** 32 - 1)

  const email = v.email ?? env.HUB_ADMIN_EMAIL
  const password = v.password ?? env.HUB_ADMIN_PASSWORD
  if (v.email !== undefined && password === undefined) problems.push('--email needs --password (or HUB_ADMIN_PASSWORD)')
  if (v.password !== undefined && email === undefined) problems.push('--password needs --email (or HUB_ADMIN_EMAIL)')
  const apiKey = v['api-key'] ?? env.DEVICE_SIM_API_KEY
  if (v.insecure === true && v.ca !== undefined) problems.push('--insecure and --ca exclude each other')

  const options: CliOptions = {
    command,
    url: url('url', v.url, ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']),
    apiUrl: url('api-url', v['api-url'], ['http:', 'https:']),
    email: email === '' ? undefined : email,
    password: password === '' ? undefined : password,
    apiKey: apiKey === '' ? undefined : apiKey,
    fleet: v.fleet ?? DEFAULT_FLEET_FILE,
    pki: v.pki ?? DEFAULT_PKI_FILE,
    count,
    connrate: int('connrate', v.connrate, 40, 0, 1_000_000),
    intervalMs: duration('interval', v.interval, 5000, 'ms', 10),
    qos,
    durationMs: duration('duration', v.duration, 0, 's', 0),
    notifyIntervalMs: duration('notify-interval', v['notify-interval'], 0, 's', 0),
    downloadMs: duration('download-time', v['download-time'], 3000, 's', 0),
    faults,
    workers,
    sourceIps,
    keepaliveSeconds: int('keepalive', v.keepalive, 60, 5, 1200),
    bufferLimit: int('buffer', v.buffer, 1000, 1, 1_000_000),
    notificationQueue: int('notification-queue', v['notification-queue'], 32, 1, 1000),
    agent,
    carriers,
    tags,
    namePrefix,
    seed,
    ca: v.ca,
    insecure: v.insecure === true,
    json: v.json === true,
    quiet: v.quiet === true,
    curve,
    eumPrefix,
    register: v.register === true,
    force: v.force === true
  }
  if (options.notifyIntervalMs > 0 && options.notifyIntervalMs < 1000) problems.push('--notify-interval must be 0 or at least 1s')
  if (problems.length > 0) throw new OptionsError(problems)
  return options
}

/** Every option, for node:util parseArgs (and for the test that checks --help names each one). */
export const OPTION_SPEC = {
  url: { type: 'string', short: 'u' },
  'api-url': { type: 'string', short: 'a' },
  email: { type: 'string' },
  password: { type: 'string' },
  'api-key': { type: 'string' },
  fleet: { type: 'string', short: 'f' },
  pki: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  count: { type: 'string', short: 'c' },
  agent: { type: 'string' },
  carriers: { type: 'string' },
  tags: { type: 'string' },
  'name-prefix': { type: 'string' },
  connrate: { type: 'string', short: 'R' },
  interval: { type: 'string', short: 'I' },
  qos: { type: 'string', short: 'q' },
  duration: { type: 'string', short: 'd' },
  workers: { type: 'string', short: 'w' },
  'source-ips': { type: 'string' },
  keepalive: { type: 'string', short: 'k' },
  buffer: { type: 'string' },
  seed: { type: 'string' },
  'notify-interval': { type: 'string' },
  'notification-queue': { type: 'string' },
  'download-time': { type: 'string' },
  faults: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'Q' },
  help: { type: 'boolean', short: 'h' },
  curve: { type: 'string' },
  'eum-prefix': { type: 'string' },
  register: { type: 'boolean' },
  force: { type: 'boolean' }
} as const

function parse (argv: readonly string[]) {
  return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTION_SPEC })
}
