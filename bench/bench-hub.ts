import pino from 'pino'
import { loadConfig } from '../server/config.ts'
import { createThrowawayDatabase } from '../server/db/throwaway-database.ts'
import { startHub, type Hub } from '../server/hub.ts'
import { DeviceRepository } from '../server/repositories/device-repository.ts'
import { DEFAULT_TENANT, UserRepository } from '../server/repositories/user-repository.ts'

export interface BenchHub {
  hub: Hub
  /** Creates a device in the default tenant, straight through the repository. */
  createDevice (input: { name: string, eid?: string }): Promise<{ clientId: string, username: string, password: string }>
  close (): Promise<void>
}

/** A hub for a benchmark: free ports, a throwaway database (PGlite, or a fresh one on DATABASE_URL's
 * server), logs at error. The per-device publish rate limit is a policy, not a cost: it is lifted so the
 * hub sees the same load as the baseline. */
export async function startBenchHub (env: Record<string, string> = {}): Promise<BenchHub> {
  const database = await createThrowawayDatabase(process.env.DATABASE_URL)
  const config = loadConfig({
    HUB_HOST: '127.0.0.1',
    HUB_HTTP_PORT: '0',
    HUB_MQTT_PORT: '0',
    DATABASE_URL: database.url,
    HUB_ADMIN_PASSWORD: 'bench-admin-password',
    HUB_LOG_LEVEL: 'error',
    ...env
  })
  const hub = await startHub(config, { logger: pino({ level: 'error' }), brokerLimits: { publishRatePerDevice: 1e9, publishBurst: 1e9 } })
  const tenantId = await new UserRepository(hub.database).ensureTenant(DEFAULT_TENANT)
  const devices = new DeviceRepository(hub.database)
  return {
    hub,
    async createDevice (input) {
      const { device, secret } = await devices.create(tenantId, input)
      return { clientId: device.id, username: device.id, password: secret }
    },
    async close () {
      await hub.close()
      await database.drop()
    }
  }
}
