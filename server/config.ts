import { resolve } from 'node:path'

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
}

export class ConfigError extends Error {
  readonly code = 'HUB_ERR_CONFIG'
  constructor (readonly problems: string[]) {
    super('Invalid configuration:\n' + problems.map((p) => '  - ' + p).join('\n'))
  }
}

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
    jwtSecret
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}
