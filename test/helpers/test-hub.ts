import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { loadConfig } from '../../server/config.ts'
import { createThrowawayDatabase } from './throwaway-database.ts'
import { startHub, type Hub, type HubOptions } from '../../server/hub.ts'
import { request, type Answer, type DeviceView } from './hub-client.ts'

/** What the test kit needs of a tap test: somewhere to register cleanup (the one teardown type). */
export interface Teardown { teardown (fn: () => unknown): void }

export interface DeviceCredentials { clientId: string, username: string, password: string }

export interface TestHub extends Hub {
  admin: { email: string, password: string }
  login (): Promise<string>
  /** `request()` against this hub with a bearer token ('' for none). */
  api<T = any>(token: string, method: string, path: string, body?: unknown): Promise<Answer<T>>
  createDevice (token: string, body?: Record<string, unknown>): Promise<{ device: DeviceView, credentials: DeviceCredentials }>
}

/** A fresh database on DATABASE_URL's server (dropped at teardown), or an in-memory PGlite. */
export async function throwawayDatabase (t: Teardown): Promise<string> {
  const { url, drop } = await createThrowawayDatabase(process.env.DATABASE_URL)
  t.teardown(drop)
  return url
}

/** Starts a real hub on free ports (HTTP, MQTT) with a throwaway database, and Redis when REDIS_URL is
 * set; stopped at the test's teardown. */
export async function startTestHub (t: Teardown, options: HubOptions & { env?: Record<string, string> } = {}): Promise<TestHub> {
  const admin = { email: 'admin@example.test', password: 'correct horse battery staple' }
  const config = loadConfig({
    HUB_HOST: '127.0.0.1',
    HUB_HTTP_PORT: '0',
    HUB_MQTT_PORT: '0',
    DATABASE_URL: await throwawayDatabase(t),
    REDIS_URL: process.env.REDIS_URL,
    HUB_ADMIN_EMAIL: admin.email,
    HUB_ADMIN_PASSWORD: admin.password,
    HUB_LOG_LEVEL: process.env.HUB_LOG_LEVEL ?? 'silent',
    // Every test device connects from 127.0.0.1, as a whole fleet behind one NAT would: the per-address
    // connection rate is off unless a test sets it (test/broker/connection-limits.test.ts does).
    HUB_CONNECT_RATE_PER_IP: '0',
    ...options.env
  })
  const hub = await startHub(config, { logger: pino({ level: config.logLevel }), ...options })
  t.teardown(() => hub.close())

  const api = <T = any>(token: string, method: string, path: string, body?: unknown) => request<T>(hub.httpUrl, method, path, { token, body })
  const login = async () => {
    const res = await api('', 'POST', '/api/auth/login', admin)
    if (res.status !== 200) throw new Error('login failed: ' + JSON.stringify(res.body))
    return res.body.accessToken as string
  }
  const createDevice = async (token: string, body: Record<string, unknown> = {}) => {
    const res = await api(token, 'POST', '/api/devices', { name: 'device ' + randomBytes(3).toString('hex'), ...body })
    if (res.status !== 201) throw new Error('device creation failed: ' + JSON.stringify(res.body))
    return res.body
  }
  return { ...hub, admin, api, login, createDevice }
}
