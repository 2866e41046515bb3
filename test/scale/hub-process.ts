// A hub in a process of its own (`node --import tsx server/main.ts`), as an operator runs it, for the
// scale-out tests: two of them on one Postgres database and one Redis are two hub instances behind a
// load balancer; one can be SIGKILLed. Each listens on free ports, found in what it prints.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { request, type Answer } from '../helpers/hub-client.ts'
import type { DeviceCredentials, Teardown } from '../helpers/test-hub.ts'

const ROOT = resolve(import.meta.dirname, '../..')
export const admin = { email: 'admin@example.test', password: 'correct horse battery staple' }

/** Why a scale-out test cannot run here, or null. */
export const skipScale = process.env.DATABASE_URL === undefined || process.env.REDIS_URL === undefined
  ? 'needs a Postgres DATABASE_URL and REDIS_URL (several hub processes share them): run with both set'
  : false

export interface HubProcess {
  readonly child: ChildProcess
  readonly httpUrl: string
  readonly mqttUrl: string
  /** Everything it printed (stdout and stderr). */
  readonly output: string[]
  api<T = any>(token: string, method: string, path: string, body?: unknown): Promise<Answer<T>>
  login (): Promise<string>
  /** SIGTERM, and resolves once it has exited (SIGKILL after 30 s). */
  stop (): Promise<void>
  /** SIGKILL: no goodbye to anyone. */
  kill (): Promise<void>
  readonly exited: Promise<number | null>
}

/** Starts `server/main.ts` with `env` over the defaults (free ports, the admin above, quiet logs);
 * resolves once it prints its addresses; stopped at teardown. */
export async function startHubProcess (t: Teardown, env: Record<string, string>): Promise<HubProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hub-process-'))
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HUB_HOST: '127.0.0.1',
      HUB_HTTP_PORT: '0',
      HUB_MQTT_PORT: '0',
      HUB_DATA_DIR: dataDir,
      HUB_ADMIN_EMAIL: admin.email,
      HUB_ADMIN_PASSWORD: admin.password,
      HUB_LOG_LEVEL: 'warn',
      HUB_CONNECT_RATE_PER_IP: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const output: string[] = []
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const urls = new Promise<{ httpUrl: string, mqttUrl: string }>((resolve, reject) => {
    let pending = ''
    const read = (chunk: Buffer): void => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        output.push(line)
        const match = /^Dashboard (\S+)\/ .* MQTT (mqtt:\/\/\S+) /.exec(line)
        if (match !== null) resolve({ httpUrl: match[1], mqttUrl: match[2] })
      }
    }
    child.stdout?.on('data', read)
    child.stderr?.on('data', read)
    exited.then((code) => reject(new Error(`the hub exited (${code}) before listening:\n${output.join('\n')}`)), () => {})
  })
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    await exited
    clearTimeout(timer)
  }
  t.teardown(async () => {
    await stop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const { httpUrl, mqttUrl } = await urls
  const api = <T = any>(token: string, method: string, path: string, body?: unknown) => request<T>(httpUrl, method, path, { token, body })
  const login = async (): Promise<string> => {
    const res = await api('', 'POST', '/api/auth/login', admin)
    if (res.status !== 200) throw new Error('login failed: ' + JSON.stringify(res.body))
    return res.body.accessToken as string
  }
  return { child, httpUrl, mqttUrl, output, api, login, stop, kill, exited }
}

/** A device's MQTT connection to one hub process (no automatic reconnect), closed at teardown. */
export async function connectDevice (t: Teardown, mqttUrl: string, credentials: DeviceCredentials): Promise<MqttClient> {
  const client = await mqtt.connectAsync(mqttUrl, { ...credentials, reconnectPeriod: 0, connectTimeout: 30_000 })
  t.teardown(() => client.endAsync(true))
  return client
}
