import { randomBytes, randomUUID } from 'node:crypto'
import pino from 'pino'
import { loadConfig } from '../server/config.ts'
import { devices as devicesTable } from '../server/db/schema/index.ts'
import { createThrowawayDatabase } from '../server/db/throwaway-database.ts'
import { startHub, type Hub } from '../server/hub.ts'
import { DeviceRepository, hashDeviceSecret } from '../server/repositories/device-repository.ts'
import { DEFAULT_TENANT, UserRepository } from '../server/repositories/user-repository.ts'

export interface BenchDevice { clientId: string, username: string, password: string }

export interface BenchHub {
  hub: Hub
  /** Creates a device in the default tenant, straight through the repository. */
  createDevice (input: { name: string, eid?: string }): Promise<BenchDevice>
  /** Creates `count` devices in the default tenant with bulk inserts (the repository's secret scheme:
   * 256-bit random secrets, SHA-256 hashes), for fleets too large to create one by one. */
  provisionDevices (count: number, namePrefix: string): Promise<BenchDevice[]>
  close (): Promise<void>
}

/** The limits a benchmark hub runs with, set through the documented environment variables (0: off). The
 * per-device publish rate and the per-address connection rate are policies, not costs: they are off so
 * the hub sees the same load as the baseline, unless the bench sets them itself. */
const BENCH_LIMITS: Record<string, string> = {
  HUB_DEVICE_PUBLISH_RATE: '0',
  HUB_DEVICE_PUBLISH_BURST: '0',
  HUB_CONNECT_RATE_PER_IP: '0'
}

/** A hub for a benchmark: free ports, a throwaway database (PGlite, or a fresh one on DATABASE_URL's
 * server), logs at error, the limits of BENCH_LIMITS unless `env` sets them. */
export async function startBenchHub (env: Record<string, string> = {}): Promise<BenchHub> {
  const database = await createThrowawayDatabase(process.env.DATABASE_URL)
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
    async createDevice (input) {
      const { device, secret } = await devices.create(tenantId, input)
      return { clientId: device.id, username: device.id, password: secret }
    },
    async provisionDevices (count, namePrefix) {
      const created: BenchDevice[] = []
      for (let start = 0; start < count; start += 1000) {
        const rows = []
        for (let i = start; i < Math.min(count, start + 1000); i++) {
          const id = randomUUID()
          const secret = randomBytes(32).toString('base64url')
          rows.push({ id, tenantId, name: `${namePrefix} ${i}`, secretHash: hashDeviceSecret(secret) })
          created.push({ clientId: id, username: id, password: secret })
        }
        await hub.database.db.insert(devicesTable).values(rows)
      }
      return created
    },
    async close () {
      await hub.close()
      await database.drop()
    }
  }
}
