import fp from 'fastify-plugin'
import { DeviceRepository } from '../repositories/device-repository.ts'
import { EuiccRepository } from '../repositories/euicc-repository.ts'
import { GatewayRepository } from '../repositories/gateway-repository.ts'
import { TelemetryRepository } from '../repositories/telemetry-repository.ts'
import { UserRepository } from '../repositories/user-repository.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Tenants, users and the hub's settings (`users.setting`). */
    users: UserRepository
    devices: DeviceRepository
    telemetry: TelemetryRepository
    euicc: EuiccRepository
    gateways: GatewayRepository
  }
}

/** The repositories: route handlers and services reach the tables through these, never the database. */
export const repositoriesPlugin = fp(async (app) => {
  app.decorate('users', new UserRepository(app.database))
  app.decorate('devices', new DeviceRepository(app.database))
  app.decorate('telemetry', new TelemetryRepository(app.database))
  app.decorate('euicc', new EuiccRepository(app.database))
  app.decorate('gateways', new GatewayRepository(app.database))
}, { name: 'repositories', dependencies: ['database'] })
