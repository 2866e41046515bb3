import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import postgres from 'postgres'
import { loadConfig } from '../server/config.ts'
import type { Db } from '../server/db/database.ts'
import { devices as devicesTable } from '../server/db/schema/index.ts'
import { createThrowawayDatabase } from '../test/helpers/throwaway-database.ts'
import { PGLITE_STORAGE } from './pglite-storage.ts'
import { startHub, type Hub } from '../server/hub.ts'
import { DeviceRepository, hashDeviceSecret } from '../server/repositories/device-repository.ts'
import { DEFAULT_TENANT, UserRepository } from '../server/repositories/user-repository.ts'

export interface BenchDevice { clientId: string, username: string, password: string }

export interface BenchHub {
  hub: Hub
  /** The default tenant, which the bench's devices belong to. */
  tenantId: string
  /** The hub's database URL (`pglite://memory`, a temporary data directory, or the throwaway database on the server). */
  databaseUrl: string
  /** Creates a device in the default tenant, straight through the repository. */
  createDevice (input: { name: string, eid?: string }): Promise<BenchDevice>
  /** Creates `count` devices in the default tenant with bulk inserts (the repository's secret scheme:
   * 256-bit random secrets, SHA-256 hashes), for fleets too large to create one by one. */
  provisionDevices (count: number, namePrefix: string): Promise<BenchDevice[]>
  close (): Promise<void>
}

/** Creates `count` devices of `tenantId` in `db` with bulk inserts of 1,000 rows (the repository's
 * secret scheme: 256-bit random secrets, SHA-256 hashes) and returns their MQTT credentials. */
export async function insertDevices (db: Db, tenantId: string, count: number, namePrefix: string): Promise<BenchDevice[]> {
  const created: BenchDevice[] = []
  for (let start = 0; start < count; start += 1000) {
    const rows = []
    for (let i = start; i < Math.min(count, start + 1000); i++) {
      const id = randomUUID()
      const secret = randomBytes(32).toString('base64url')
      rows.push({ id, tenantId, name: `${namePrefix} ${i}`, secretHash: hashDeviceSecret(secret) })
      created.push({ clientId: id, username: id, password: secret })
    }
    await db.insert(devicesTable).values(rows)
  }
  return created
}

/** The limits a benchmark hub runs with, set through the documented environment variables (0: off). The
 * per-device publish rate and the per-address connection rate are policies, not costs: they are off so
 * the hub sees the same load as the baseline, unless the bench sets them itself. */
const BENCH_LIMITS: Record<string, string> = {
  HUB_DEVICE_PUBLISH_RATE: '0',
  HUB_DEVICE_PUBLISH_BURST: '0',
  HUB_CONNECT_RATE_PER_IP: '0'
}

/** The Postgres server the benches use: DATABASE_URL, or the local one. */
export const BENCH_POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A database a bench runs on: the embedded PGlite, or a throwaway database on a Postgres server
 * (`serverUrl`); `unavailable` says why it cannot be used in this run. */
export interface BenchDatabase { name: 'pglite' | 'postgres', serverUrl?: string, unavailable?: string }

/** The databases of BENCH_DATABASES (`pglite,postgres` unless set), the Postgres one checked. */
export async function benchDatabases (): Promise<BenchDatabase[]> {
  const names = (process.env.BENCH_DATABASES ?? 'pglite,postgres').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const out: BenchDatabase[] = []
  for (const name of names) {
    if (name === 'pglite') out.push({ name })
    else if (name === 'postgres') out.push({ name, serverUrl: BENCH_POSTGRES_URL, unavailable: await postgresUnreachable(BENCH_POSTGRES_URL) })
    else throw new Error(`BENCH_DATABASES: unknown database ${name} (pglite, postgres)`)
  }
  return out
}

/** Why the Postgres server at `url` cannot be used (undefined: it answers). */
export async function postgresUnreachable (url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} })
  try {
    await sql`select 1`
    return undefined
  } catch (err) {
    return `${new URL(url).host}: ${(err as Error).message}`
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {})
  }
}

/** A throwaway embedded database in a new temporary data directory. */
async function throwawayPgliteDirectory (): Promise<{ url: string, drop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hub-bench-pglite-'))
  return { url: 'pglite://' + dir, drop: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A hub for a benchmark: free ports, a throwaway database (PGlite, or a fresh one on `serverUrl`,
 * DATABASE_URL's server unless given; PGlite where PGLITE_STORAGE says), logs at error, the limits of
 * BENCH_LIMITS unless `env` sets them. */
export async function startBenchHub (env: Record<string, string> = {}, serverUrl: string | undefined = process.env.DATABASE_URL): Promise<BenchHub> {
  const throwaway = await createThrowawayDatabase(serverUrl)
  const database = throwaway.url === 'pglite://memory' && PGLITE_STORAGE === 'directory' ? await throwawayPgliteDirectory() : throwaway
  const config = loadConfig({
    HUB_HOST: '127.0.0.1',
    HUB_HTTP_PORT: '0',
    HUB_MQTT_PORT: '0',
    DATABASE_URL: database.url,
    HUB_ADMIN_PASSWORD: 'bench-admin-password',
    HUB_LOG_LEVEL: 'error',
    ...BENCH_LIMITS,
    ...env
  })
  const hub = await startHub(config, { logger: pino({ level: 'error' }) })
  const tenantId = await new UserRepository(hub.database).ensureTenant(DEFAULT_TENANT)
  const devices = new DeviceRepository(hub.database)
  return {
    hub,
    tenantId,
    databaseUrl: database.url,
    async createDevice (input) {
      const { device, secret } = await devices.create(tenantId, input)
      return { clientId: device.id, username: device.id, password: secret }
    },
    async provisionDevices (count, namePrefix) {
      return await insertDevices(hub.database.db, tenantId, count, namePrefix)
    },
    async close () {
      await hub.close()
      await database.drop()
    }
  }
}
