import { resolve } from 'node:path'
import { ConfigError } from './errors.ts'

/** Validated hub configuration, read once at start from the environment (DESIGN.md "Running it"). */
export interface HubConfig {
  host: string
  httpPort: number
  mqttPort: number
  mqttsPort: number | null
  tlsCert: string | null
  tlsKey: string | null
  dataDir: string
  databaseUrl: string
  redisUrl: string | null
  adminEmail: string | null
  adminPassword: string | null
  euiccTrustDir: string | null
  logLevel: string
  jwtSecret: string | null
  /** Per-device token bucket: publishes per second sustained and at once (0: no limit). */
  devicePublishRate: number
  devicePublishBurst: number
  /** New MQTT connections per second per source address (0: no limit). */
  connectRatePerIp: number
  /** The hard MQTT frame cap in bytes: a larger packet closes the connection. Payloads over a topic's own
   * limit but under this cap are acknowledged and quarantined by size. */
  mqttMaxFrameBytes: number
  /** Dashboard and API over TLS (with HUB_TLS_CERT / HUB_TLS_KEY). */
  httpsPort: number | null
  /** A TLS-terminating proxy in front: `X-Forwarded-*` is honoured from these addresses only
   * (`true`/`1` for any, or a comma-separated list of addresses and CIDRs). */
  trustProxy: boolean | string[]
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken: string | null
  /** HUB_PUBLIC_URL: the hub's address as others reach it (links in webhook bodies), without a trailing
   * slash; null when unset. */
  publicUrl: string | null
  /** HUB_WEBHOOK_ALLOW_PRIVATE=1: webhook URLs may resolve to loopback, private or link-local addresses. */
  webhookAllowPrivate: boolean
  /** HUB_TELEMETRY_RETENTION_DAYS: raw telemetry older than this is dropped a day partition at a time
   * (0: kept forever). Minute rollups are kept 4 times as long. */
  telemetryRetentionDays: number
  /** HUB_ROLLUP_RETENTION_DAYS: hour rollups older than this are dropped (0: kept forever). */
  rollupRetentionDays: number
  /** HUB_WORKERS: hub processes on this host sharing its ports (node:cluster); more than 1 needs a
   * Postgres DATABASE_URL and REDIS_URL (docs/scale-out.md). */
  workers: number
}

/** Defaults of the limits, also what docs/broker.md states. */
export const limitDefaults = {
  devicePublishRate: 50,
  devicePublishBurst: 200,
  connectRatePerIp: 50,
  mqttMaxFrameBytes: 1024 * 1024
} as const

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
type Env = Record<string, string | undefined>

/** Reads and validates the environment; throws one ConfigError naming every bad value. */
export function loadConfig (env: Env = process.env): HubConfig {
  const problems: string[] = []
  const str = (name: string): string | null => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? null : value.trim()
  }
  const port = (name: string, fallback: number | null): number | null => {
    const raw = str(name)
    if (raw === null) return fallback
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n > 65535) {
      problems.push(`${name}="${raw}" is not a TCP port (an integer from 0 to 65535; 0 picks a free port)`)
      return fallback
    }
    return n
  }

  const count = (name: string, fallback: number, max: number, what: string): number => {
    const raw = str(name)
    if (raw === null) return fallback
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n > max) {
      problems.push(`${name}="${raw}" must be ${what}: an integer from 0 (no limit) to ${max}`)
      return fallback
    }
    return n
  }

  const dataDir = resolve(str('HUB_DATA_DIR') ?? './data')
  const databaseUrl = str('DATABASE_URL') ?? 'pglite://' + resolve(dataDir, 'pglite')
  if (!/^(postgres|postgresql|pglite):\/\//.test(databaseUrl)) {
    problems.push(`DATABASE_URL="${databaseUrl}" must start with postgres://, postgresql:// or pglite:// (pglite://memory for a throwaway database)`)
  }
  const redisUrl = str('REDIS_URL')
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) {
    problems.push(`REDIS_URL="${redisUrl}" must start with redis:// or rediss://`)
  }
  const mqttsPort = port('HUB_MQTTS_PORT', null)
  const tlsCert = str('HUB_TLS_CERT')
  const tlsKey = str('HUB_TLS_KEY')
  if (mqttsPort !== null && (tlsCert === null || tlsKey === null)) {
    problems.push('HUB_MQTTS_PORT is set, so HUB_TLS_CERT and HUB_TLS_KEY (PEM file paths) must be set too')
  }
  const adminEmail = str('HUB_ADMIN_EMAIL')
  if (adminEmail !== null && !/^[^@\s]+@[^@\s]+$/.test(adminEmail)) {
    problems.push(`HUB_ADMIN_EMAIL="${adminEmail}" is not an email address`)
  }
  const adminPassword = str('HUB_ADMIN_PASSWORD')
  if (adminPassword !== null && (adminPassword.length < 12 || adminPassword.length > 256)) {
    problems.push('HUB_ADMIN_PASSWORD must be 12 to 256 characters long')
  }
  const logLevel = str('HUB_LOG_LEVEL') ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`HUB_LOG_LEVEL="${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`)
  }
  const jwtSecret = str('HUB_JWT_SECRET')
  if (jwtSecret !== null && jwtSecret.length < 32) {
    problems.push('HUB_JWT_SECRET must be at least 32 characters (unset: a secret is generated and kept in the database)')
  }

  const devicePublishRate = count('HUB_DEVICE_PUBLISH_RATE', limitDefaults.devicePublishRate, 1_000_000, 'publishes per second per device')
  const devicePublishBurst = count('HUB_DEVICE_PUBLISH_BURST', limitDefaults.devicePublishBurst, 1_000_000, 'a burst of publishes per device')
  if (devicePublishRate > 0 && devicePublishBurst === 0) {
    problems.push('HUB_DEVICE_PUBLISH_BURST=0 with a publish rate set would refuse every publish: set both to 0 to turn the limit off')
  }
  const connectRatePerIp = count('HUB_CONNECT_RATE_PER_IP', limitDefaults.connectRatePerIp, 1_000_000, 'new MQTT connections per second per source address')
  const frameRaw = str('HUB_MQTT_MAX_FRAME_BYTES')
  let mqttMaxFrameBytes: number = limitDefaults.mqttMaxFrameBytes
  if (frameRaw !== null) {
    const n = Number(frameRaw)
    // Notifications may be 256 KB, so the frame cap is never below that; 268435455 is MQTT's own maximum.
    if (!/^\d+$/.test(frameRaw) || n < 256 * 1024 || n > 268_435_455) {
      problems.push(`HUB_MQTT_MAX_FRAME_BYTES="${frameRaw}" must be an integer from 262144 (256 KB) to 268435455`)
    } else {
      mqttMaxFrameBytes = n
    }
  }
  const httpsPort = port('HUB_HTTPS_PORT', null)
  if (httpsPort !== null && (tlsCert === null || tlsKey === null)) {
    problems.push('HUB_HTTPS_PORT is set, so HUB_TLS_CERT and HUB_TLS_KEY (PEM file paths) must be set too')
  }
  const trustProxyRaw = str('HUB_TRUST_PROXY')
  let trustProxy: boolean | string[] = false
  if (trustProxyRaw !== null) {
    if (/^(1|true)$/i.test(trustProxyRaw)) trustProxy = true
    else if (/^(0|false)$/i.test(trustProxyRaw)) trustProxy = false
    else {
      const list = trustProxyRaw.split(',').map((a) => a.trim()).filter((a) => a !== '')
      const bad = list.filter((a) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a))
      if (bad.length > 0 || list.length === 0) problems.push(`HUB_TRUST_PROXY="${trustProxyRaw}" must be 1, 0, or a comma-separated list of proxy addresses or CIDRs`)
      else trustProxy = list
    }
  }
  const metricsToken = str('HUB_METRICS_TOKEN')
  if (metricsToken !== null && metricsToken.length < 16) {
    problems.push('HUB_METRICS_TOKEN must be at least 16 characters')
  }

  const publicRaw = str('HUB_PUBLIC_URL')
  let publicUrl: string | null = null
  if (publicRaw !== null) {
    let parsed: URL | null = null
    try { parsed = new URL(publicRaw) } catch {}
    if (parsed === null || !/^https?:$/.test(parsed.protocol) || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '') {
      problems.push(`HUB_PUBLIC_URL="${publicRaw}" must be an absolute http:// or https:// URL without query, fragment or credentials`)
    } else {
      publicUrl = parsed.toString().replace(/\/+$/, '')
    }
  }
  const allowPrivateRaw = str('HUB_WEBHOOK_ALLOW_PRIVATE')
  if (allowPrivateRaw !== null && !/^(0|1)$/.test(allowPrivateRaw)) {
    problems.push(`HUB_WEBHOOK_ALLOW_PRIVATE="${allowPrivateRaw}" must be 0 or 1`)
  }

  const days = (name: string, what: string): number => {
    const raw = str(name)
    if (raw === null) return 0
    if (!/^\d+$/.test(raw) || Number(raw) > 36_500) {
      problems.push(`${name}="${raw}" must be ${what}: an integer from 0 (keep forever) to 36500`)
      return 0
    }
    return Number(raw)
  }
  const telemetryRetentionDays = days('HUB_TELEMETRY_RETENTION_DAYS', 'the days raw telemetry is kept')
  const rollupRetentionDays = days('HUB_ROLLUP_RETENTION_DAYS', 'the days hour rollups of telemetry are kept')
  if (rollupRetentionDays > 0 && (telemetryRetentionDays === 0 || rollupRetentionDays < telemetryRetentionDays * 4)) {
    problems.push(`HUB_ROLLUP_RETENTION_DAYS=${rollupRetentionDays} must be at least 4 × HUB_TELEMETRY_RETENTION_DAYS (rollups outlive raw samples, minute rollups are kept 4 times as long), and needs HUB_TELEMETRY_RETENTION_DAYS set; 0 keeps rollups forever`)
  }
  const workersRaw = str('HUB_WORKERS')
  let workers = 1
  if (workersRaw !== null) {
    const n = Number(workersRaw)
    if (!/^\d+$/.test(workersRaw) || n < 1 || n > 64) problems.push(`HUB_WORKERS="${workersRaw}" must be an integer from 1 to 64 (hub processes sharing this host's ports)`)
    else workers = n
  }
  if (workers > 1 && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push(`HUB_WORKERS=${workers} needs DATABASE_URL to name a Postgres server (postgres://…): the processes share one database, which an embedded PGlite cannot be`)
  }
  if (workers > 1 && redisUrl === null) {
    problems.push(`HUB_WORKERS=${workers} needs REDIS_URL: the processes share MQTT sessions, presence, live events and limits through Redis`)
  }

  const config: HubConfig = {
    host: str('HUB_HOST') ?? '0.0.0.0',
    httpPort: port('HUB_HTTP_PORT', 8080) as number,
    mqttPort: port('HUB_MQTT_PORT', 1883) as number,
    mqttsPort,
    tlsCert,
    tlsKey,
    dataDir,
    databaseUrl,
    redisUrl,
    adminEmail,
    adminPassword,
    euiccTrustDir: str('HUB_EUICC_TRUST_DIR'),
    logLevel,
    jwtSecret,
    devicePublishRate,
    devicePublishBurst,
    connectRatePerIp,
    mqttMaxFrameBytes,
    httpsPort,
    trustProxy,
    metricsToken,
    publicUrl,
    webhookAllowPrivate: allowPrivateRaw === '1',
    telemetryRetentionDays,
    rollupRetentionDays,
    workers
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}
