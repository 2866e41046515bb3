import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import cookie from '@fastify/cookie'
import type { Redis } from 'ioredis'
import { accessTokenPlugin } from './auth/access-token.ts'
import { auditHooks } from './audit/audit-hooks.ts'
import type { AuditLog } from './audit/audit-log.ts'
import { createIdentity } from './auth/identity.ts'
import { apiKeyRoutes } from './routes/api-key-routes.ts'
import { auditRoutes } from './routes/audit-routes.ts'
import { tenantRoutes } from './routes/tenant-routes.ts'
import { userRoutes } from './routes/user-routes.ts'
import type { EventBus } from './bus/event-bus.ts'
import type { Presence } from './bus/presence.ts'
import type { Database } from './db/database.ts'
import type { EventLog } from './events/event-log.ts'
import type { StreamTickets } from './events/stream-tickets.ts'
import type { HubMetrics } from './metrics.ts'
import type { DeviceRepository } from './repositories/device-repository.ts'
import type { TelemetryRepository } from './repositories/telemetry-repository.ts'
import type { UserRepository } from './repositories/user-repository.ts'
import { authRoutes } from './routes/auth-routes.ts'
import { deviceRoutes } from './routes/device-routes.ts'
import { eventRoutes } from './routes/event-routes.ts'
import { healthRoutes } from './routes/health-routes.ts'
import { telemetryRoutes } from './routes/telemetry-routes.ts'
import { euiccRoutes } from './routes/euicc-routes.ts'
import { es9plusRoutes } from './routes/es9plus-routes.ts'
import type { EuiccRepository } from './repositories/euicc-repository.ts'
import type { NotificationPipeline } from './notifications/notification-pipeline.ts'
import type { OperatorDirectory } from './notifications/operator-directory.ts'
import type { TrustStore } from './notifications/trust-store.ts'
import type { CommandService } from './commands/command-service.ts'
import type { CampaignService } from './commands/campaign-service.ts'
import { campaignRoutes } from './routes/campaign-routes.ts'
import type { EimIdentity } from './eim/eim-identity.ts'
import { commandRoutes } from './routes/command-routes.ts'
import type { DeviceCertificates } from './device-ca/device-certificates.ts'
import { deviceCertificateRoutes } from './routes/device-certificate-routes.ts'
import { transportSecurity } from './transport-security.ts'
import { finiteNumbers, schemaPlugin } from './routes/schemas.ts'
import { errors } from './errors.ts'

export interface AppDeps {
  logger: Logger
  database: Database
  users: UserRepository
  devices: DeviceRepository
  telemetry: TelemetryRepository
  presence: Presence
  bus: EventBus
  eventLog: EventLog
  tickets: StreamTickets
  metrics: HubMetrics
  jwtSecret: string
  brokerReady: () => boolean
  mqttUrl: () => string
  sseStreams: Set<() => void>
  audit: AuditLog
  redis: Redis | null
  euicc: EuiccRepository
  trustStore: TrustStore
  operators: OperatorDirectory
  notifications: NotificationPipeline
  commands: CommandService
  campaigns: CampaignService
  eim: EimIdentity
  deviceCertificates: DeviceCertificates
  /** ES9+ posts per source address and window (default ES9PLUS_RATE_LIMIT_DEFAULT, 60 a minute). */
  es9plusRateLimit?: { max: number, timeWindowMs: number }
  /** HUB_TRUST_PROXY: whose X-Forwarded-* to honour (default: nobody). */
  trustProxy?: boolean | string[]
  /** HUB_METRICS_TOKEN: when set, /metrics needs it as a Bearer token. */
  metricsToken?: string | null
}

const webRoot = fileURLToPath(new URL('../web/dist', import.meta.url))

/** The HTTP side: infrastructure plugins, then the routes. The entry point only listens. */
export async function buildApp (deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    requestTimeout: 30_000,
    forceCloseConnections: true,
    trustProxy: deps.trustProxy ?? false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true }, plugins: [schemaPlugin] },
    // A URL the router cannot decode (`%ED%A0%80`, `%ZZ`) or with a path parameter over its length.
    frameworkErrors: (err, _request, reply) => { (reply as FastifyReply).code(err.statusCode ?? 400).send({ error: { code: err.code, message: err.message } }) }
  }).withTypeProvider<TypeBoxTypeProvider>()
  // Every number a route reads must be finite (see schemaPlugin); new routes get it too.
  app.addHook('onRoute', (route) => {
    for (const part of [route.schema?.querystring, route.schema?.params, route.schema?.body]) finiteNumbers(part)
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500
    if (err.validation !== undefined) {
      // A malformed cursor has its own code, whichever list it was given to.
      const cursor = err.validationContext === 'querystring' && err.validation.some((v) => v.instancePath === '/cursor')
      const error = cursor ? new errors.InvalidCursor() : new errors.Validation(err.message)
      return reply.code(400).send({ error: { code: error.code, message: error.message } })
    }
    if (status === 503 && err.code === 'HUB_ERR_UNAVAILABLE') {
      return reply.code(503).send({ error: { code: err.code, message: err.message } })
    }
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      const internal = new errors.Internal()
      return reply.code(status).send({ error: { code: internal.code, message: internal.message } })
    }
    return reply.code(status).send({ error: { code: err.code ?? new errors.Request().code, message: err.message } })
  })
  app.setNotFoundHandler((request, reply) => {
    const missing = new errors.NotFound(`Route ${request.method} ${request.url.split('?')[0]}`)
    reply.code(404).send({ error: { code: missing.code, message: missing.message } })
  })

  // HSTS only over TLS (transport-security.ts), never over plain HTTP.
  await app.register(transportSecurity)
  await app.register(helmet, {
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: null
      }
    }
  })
  await app.register(swagger, {
    openapi: {
      info: { title: 'euicc-hub API', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  // The docs page's own inline scripts need a relaxed CSP on /docs only.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  const identity = createIdentity(deps.database, deps.redis, await deps.users.setting('installation-id', () => randomUUID()))
  await app.register(cookie)
  await app.register(accessTokenPlugin, { secret: deps.jwtSecret, revocations: identity.revocations, apiKeys: identity.apiKeys })
  await app.register(auditHooks, { audit: deps.audit })

  await app.register(healthRoutes, { database: deps.database, metrics: deps.metrics, brokerReady: deps.brokerReady, metricsToken: deps.metricsToken ?? null })
  await app.register(authRoutes, { users: deps.users, identity, audit: deps.audit })
  await app.register(userRoutes, { users: deps.users, identity, audit: deps.audit })
  await app.register(tenantRoutes, { users: deps.users, audit: deps.audit })
  await app.register(apiKeyRoutes, { apiKeys: identity.apiKeys, audit: deps.audit })
  await app.register(auditRoutes, { audit: deps.audit })
  await app.register(deviceRoutes, { devices: deps.devices, telemetry: deps.telemetry, presence: deps.presence, bus: deps.bus, mqttUrl: deps.mqttUrl, euicc: deps.euicc, trustStore: deps.trustStore })
  await app.register(telemetryRoutes, { devices: deps.devices, telemetry: deps.telemetry })
  await app.register(euiccRoutes, { devices: deps.devices, euicc: deps.euicc, trustStore: deps.trustStore, operators: deps.operators, audit: deps.audit })
  await app.register(es9plusRoutes, { notifications: deps.notifications, redis: deps.redis, installationId: await deps.users.setting('installation-id', () => randomUUID()), rateLimit: deps.es9plusRateLimit })
  await app.register(commandRoutes, { commands: deps.commands, devices: deps.devices, eim: deps.eim })
  await app.register(deviceCertificateRoutes, { devices: deps.devices, certificates: deps.deviceCertificates, audit: deps.audit })
  await app.register(campaignRoutes, { campaigns: deps.campaigns, commands: deps.commands, audit: deps.audit })
  await app.register(eventRoutes, { log: deps.eventLog, tickets: deps.tickets, metrics: deps.metrics, streams: deps.sseStreams, revocations: identity.revocations })

  if (existsSync(webRoot)) {
    // The build writes .br/.gz beside each asset (served by Accept-Encoding) and keeps the source map private.
    await app.register(fastifyStatic, { root: webRoot, index: ['index.html'], wildcard: false, preCompressed: true, allowedPath: (path) => !path.endsWith('.map') })
  } else {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.code(503).type('text/plain').send('The dashboard is not built: run `npm run build:web`.'))
  }
  return app
}
