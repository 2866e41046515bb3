import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import fp from 'fastify-plugin'
import pino, { type Logger } from 'pino'
import type { BrokerLimits } from '../broker/hub-broker.ts'
import type { HubConfig } from './config.ts'
import type { IngestBatcherOptions } from './ingest/ingest-batcher.ts'
import { alertsPlugin, type AlertsOptions } from './plugins/alerts.ts'
import { auditPlugin } from './plugins/audit.ts'
import { brokerPlugin } from './plugins/broker.ts'
import { busPlugin } from './plugins/bus.ts'
import { commandsPlugin } from './plugins/commands.ts'
import { configPlugin } from './plugins/config.ts'
import { dashboardPlugin } from './plugins/dashboard.ts'
import { databasePlugin } from './plugins/database.ts'
import { deviceCertificatesPlugin } from './plugins/device-certificates.ts'
import { deviceIngestPlugin } from './plugins/device-ingest.ts'
import { deviceSessionsPlugin } from './plugins/device-sessions.ts'
import { eimIdentityPlugin } from './plugins/eim-identity.ts'
import { errorHandlerPlugin } from './plugins/error-handler.ts'
import { eventStreamPlugin } from './plugins/event-stream.ts'
import { httpSecurityPlugin } from './plugins/http-security.ts'
import { httpsListenerPlugin } from './plugins/https-listener.ts'
import { identityPlugin } from './plugins/identity.ts'
import { inventoryPlugin } from './plugins/inventory.ts'
import { metricsPlugin } from './plugins/metrics.ts'
import { mqttListenersPlugin } from './plugins/mqtt-listeners.ts'
import { notificationsPlugin } from './plugins/notifications.ts'
import { operatorDirectoryPlugin } from './plugins/operator-directory.ts'
import { presencePlugin } from './plugins/presence.ts'
import { redisPlugin } from './plugins/redis.ts'
import { repositoriesPlugin } from './plugins/repositories.ts'
import { swaggerPlugin } from './plugins/swagger.ts'
import { telemetryMaintenancePlugin, type TelemetryMaintenanceOptions } from './plugins/telemetry-maintenance.ts'
import { embeddedUpkeepPlugin, type EmbeddedUpkeepOptions } from './plugins/embedded-upkeep.ts'
import { trustStorePlugin } from './plugins/trust-store.ts'
import { apiRoutes } from './routes/api.ts'
import { es9plusRoutes } from './routes/es9plus-routes.ts'
import { healthRoutes } from './routes/health-routes.ts'
import { schemaPlugin } from './routes/schemas.ts'

/** What a program starting the hub (tests, benches) may set beside the configuration. */
export interface HubOptions {
  logger?: Logger
  brokerLimits?: Partial<BrokerLimits>
  ingest?: Partial<IngestBatcherOptions>
  /** Command expiry sweep interval (ms; default 1000) and the campaigns' safety tick (default 5000). */
  commands?: { sweepMs?: number, campaignTickMs?: number }
  /** Window of the refused-MQTT-action audit digest (ms; default 60 s). */
  denialDigestMs?: number
  /** ES9+ handleNotification posts per source address and window (default 60 a minute). */
  es9plusRateLimit?: { max: number, timeWindowMs: number }
  /** Alert evaluation batch and sweep intervals, webhook delivery timing (docs/alerts.md). */
  alerts?: AlertsOptions
  /** Rollup and partition upkeep intervals (server/plugins/telemetry-maintenance.ts). */
  telemetry?: TelemetryMaintenanceOptions
  /** The embedded database's vacuum and analyze (PGlite only). */
  upkeep?: EmbeddedUpkeepOptions
}

/** The hub as one plugin tree (docs/architecture.md "The plugin tree"). Registration order is dependency
 * order, and close order is its reverse (onClose hooks run last-registered first); the broker, the event
 * streams and the HTTPS listener stop in `preClose`, before all of them. A new service is a plugin in
 * server/plugins/ registered after what it uses; new routes go in routes/api.ts (or here, beside ES9+,
 * when they are not under /api). */
export const hub: FastifyPluginAsync<{ config: HubConfig, options: HubOptions }> = async (app, { config, options }) => {
  await app.register(configPlugin, { config })
  await app.register(errorHandlerPlugin)

  // Infrastructure: closed last, the database after everything that writes to it.
  await app.register(databasePlugin)
  await app.register(redisPlugin)
  await app.register(busPlugin)
  await app.register(metricsPlugin)
  await app.register(auditPlugin)
  await app.register(repositoriesPlugin)
  await app.register(presencePlugin)
  await app.register(identityPlugin)

  // The broker, before the services that send to devices (its hooks come later: device sessions).
  await app.register(brokerPlugin, { limits: options.brokerLimits })

  // Services.
  await app.register(trustStorePlugin)
  await app.register(operatorDirectoryPlugin)
  await app.register(inventoryPlugin)
  await app.register(notificationsPlugin)
  await app.register(eimIdentityPlugin)
  await app.register(deviceCertificatesPlugin)
  await app.register(commandsPlugin, options.commands ?? {})
  await app.register(deviceIngestPlugin, options.ingest ?? {})
  await app.register(telemetryMaintenancePlugin, options.telemetry ?? {})
  await app.register(embeddedUpkeepPlugin, options.upkeep ?? {})
  await app.register(deviceSessionsPlugin, { denialDigestMs: options.denialDigestMs })
  await app.register(eventStreamPlugin)
  await app.register(alertsPlugin, options.alerts ?? {})

  // Listeners beside the HTTP one (which `listen` opens): they open once the app is ready.
  await app.register(mqttListenersPlugin)
  await app.register(httpsListenerPlugin)

  // HTTP: headers, audit of requests, OpenAPI, then the routes.
  await app.register(httpSecurityPlugin)
  await app.register(swaggerPlugin)
  await app.register(healthRoutes)
  await app.register(es9plusRoutes, { rateLimit: options.es9plusRateLimit })
  await app.register(apiRoutes)
  await app.register(dashboardPlugin)
}

/** Builds the hub (not yet listening): the Fastify instance with its server options, and the tree. */
export async function buildApp (config: HubConfig, options: HubOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? pino({ level: config.logLevel })
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    requestTimeout: 30_000,
    forceCloseConnections: true,
    // The whole hub loads inside one plugin, migrations included: no start-up deadline of Fastify's own.
    pluginTimeout: 0,
    trustProxy: config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true }, plugins: [schemaPlugin] },
    // A URL the router cannot decode (`%ED%A0%80`, `%ZZ`) or with a path parameter over its length.
    frameworkErrors: (err, _request, reply) => { (reply as FastifyReply).code(err.statusCode ?? 400).send({ error: { code: err.code, message: err.message } }) }
  }).withTypeProvider<TypeBoxTypeProvider>()
  try {
    await app.register(fp(hub, { name: 'hub' }), { config, options })
  } catch (err) {
    // A plugin that failed to start (a failed migration, Redis unreachable): close what the ones before it opened.
    await app.close().catch((closeErr: unknown) => app.log.error({ err: closeErr }, 'error while closing'))
    throw err
  }
  return app
}
