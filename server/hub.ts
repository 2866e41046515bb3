import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Redis } from 'ioredis'
import pino, { type Logger } from 'pino'
import { defaultBrokerLimits, HubBroker, type BrokerBackend, type BrokerLimits } from '../broker/hub-broker.ts'
import { buildApp } from './app.ts'
import { bootstrapAdmin, type BootstrapResult } from './auth/admin-bootstrap.ts'
import { LocalEventBus, RedisEventBus, type EventBus } from './bus/event-bus.ts'
import { Presence } from './bus/presence.ts'
import { connectRedis } from './bus/redis-connection.ts'
import type { HubConfig } from './config.ts'
import { openDatabase, type Database } from './db/database.ts'
import { EventLog } from './events/event-log.ts'
import { StreamTickets } from './events/stream-tickets.ts'
import { DeviceIngest } from './ingest/device-ingest.ts'
import { NotificationPipeline } from './notifications/notification-pipeline.ts'
import { NotificationStore } from './notifications/notification-store.ts'
import { OperatorDirectory } from './notifications/operator-directory.ts'
import { TrustStore } from './notifications/trust-store.ts'
import { EuiccRepository } from './repositories/euicc-repository.ts'
import { IngestBatcher, type IngestBatcherOptions } from './ingest/ingest-batcher.ts'
import { createMetrics } from './metrics.ts'
import { DeviceRepository } from './repositories/device-repository.ts'
import { TelemetryRepository } from './repositories/telemetry-repository.ts'
import { UserRepository } from './repositories/user-repository.ts'
import { AuditLog } from './audit/audit-log.ts'
import { CommandService } from './commands/command-service.ts'
import { CampaignService } from './commands/campaign-service.ts'
import { loadEimIdentity } from './eim/eim-identity.ts'

/** How often in-memory last-seen times are written to the devices table. */
const LAST_SEEN_FLUSH_MS = 5000

export interface HubOptions {
  logger?: Logger
  brokerLimits?: Partial<BrokerLimits>
  ingest?: Partial<IngestBatcherOptions>
  /** Command expiry sweep interval (ms; default 1000). */
  commands?: { sweepMs?: number, campaignTickMs?: number }
  /** ES9+ handleNotification posts per source address and window (default 60 a minute). */
  es9plusRateLimit?: { max: number, timeWindowMs: number }
}

export interface Hub {
  readonly httpPort: number
  readonly mqttPort: number
  readonly httpUrl: string
  readonly mqttUrl: string
  readonly bootstrap: BootstrapResult
  readonly database: Database
  readonly broker: HubBroker
  readonly audit: AuditLog
  readonly logger: Logger
  /** Stops accepting, finishes in-flight writes, ends SSE streams, closes connections. */
  close (): Promise<void>
}

/** Starts the whole hub in this process: database (migrated), optional Redis, broker, HTTP API. */
export async function startHub (config: HubConfig, options: HubOptions = {}): Promise<Hub> {
  const logger = options.logger ?? pino({ level: config.logLevel })
  const closers: Array<() => Promise<unknown>> = []
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) {
      await closer().catch((err: unknown) => logger.error({ err }, 'error while closing'))
    }
  }
  try {
    const database = await openDatabase(config.databaseUrl)
    closers.push(() => database.close())
    logger.info({ driver: database.driver }, 'database ready, migrations applied')

    const metrics = createMetrics()
    const redisError = (err: Error): void => { logger.warn({ err: err.message }, 'redis error') }
    let redis: Redis | null = null
    let bus: EventBus
    if (config.redisUrl !== null) {
      redis = await connectRedis(config.redisUrl, 'euicc-hub')
      const subscriber = await connectRedis(config.redisUrl, 'euicc-hub-sub')
      closers.push(async () => { redis?.disconnect(); subscriber.disconnect() })
      const redisBus = new RedisEventBus(redis, subscriber, redisError)
      await redisBus.start()
      bus = redisBus
    } else {
      bus = new LocalEventBus()
    }
    closers.push(() => bus.close())
    const presence = new Presence(redis, redisError)

    const users = new UserRepository(database)
    const devices = new DeviceRepository(database)
    const telemetry = new TelemetryRepository(database)
    const audit = new AuditLog(database)
    closers.push(() => audit.flush())
    const bootstrap = await bootstrapAdmin(users, config.adminEmail, config.adminPassword)
    const jwtSecret = config.jwtSecret ?? await users.setting('jwt-secret', () => randomBytes(48).toString('base64url'))

    const batcher = new IngestBatcher(database, {
      maxBatchRows: options.ingest?.maxBatchRows ?? 2000,
      maxConcurrentWrites: options.ingest?.maxConcurrentWrites ?? (database.driver === 'pglite' ? 1 : 4)
    }, {
      committed: (rows, quarantined, seconds) => {
        metrics.batchRows.observe(rows + quarantined)
        metrics.commitSeconds.observe(seconds)
      },
      failed: (rows, err) => {
        metrics.writeFailures.inc()
        logger.error({ rows, err: err.message }, 'ingest write failed; publishes are not acknowledged and will be resent')
      }
    })
    metrics.probes.queuedRows = () => batcher.queued

    const euicc = new EuiccRepository(database)
    const trustStore = new TrustStore(database)
    if (config.euiccTrustDir !== null) trustStore.loadDirectory(config.euiccTrustDir)
    await trustStore.reload()
    logger.info({ trustAnchors: trustStore.list().length }, trustStore.list().length === 0 ? 'no eUICC trust anchor: every notification will be rejected (no-trust-anchor)' : 'eUICC trust anchors loaded')
    const operators = new OperatorDirectory(euicc)
    await operators.load()
    const notifications = new NotificationPipeline(new NotificationStore(database), trustStore, operators, bus, metrics, (err) => logger.error({ err }, 'notification processing failed; it stays in the inbox'))
    closers.push(() => notifications.close())
    // The broker is created below; this is only called once it runs.
    const sendToDevice = (topic: string, payload: string) => new Promise<void>((resolve, reject) => {
      broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, (err) => err === undefined || err === null ? resolve() : reject(err))
    })
    const eim = await loadEimIdentity((key, create) => users.setting(key, create))
    const commands = new CommandService({ database, bus, audit, euicc, operators, eim, logger, metrics, send: sendToDevice, sweepMs: options.commands?.sweepMs })
    closers.push(() => commands.close())
    const campaigns = new CampaignService({ database, bus, commands, logger, tickMs: options.commands?.campaignTickMs })
    closers.push(() => campaigns.close())
    const ingest = new DeviceIngest({
      commands,
      batcher,
      bus,
      metrics,
      notifications,
      euicc,
      operators,
      sendToDevice
    })

    const eventLog = new EventLog()
    bus.subscribe((event) => eventLog.append(event))
    const at = () => new Date().toISOString()
    const backend: BrokerBackend = {
      authenticate: (id, secret) => devices.authenticate(id, secret),
      publish: ingest.handle,
      connected: (device) => {
        metrics.connections.inc()
        presence.connected(device.id, device.tenantId)
        bus.publish({ type: 'device.online', tenantId: device.tenantId, data: { deviceId: device.id, at: at() } })
      },
      disconnected: (device) => {
        commands.deviceGone(device.id)
        metrics.connections.dec()
        presence.disconnected(device.id)
        bus.publish({ type: 'device.offline', tenantId: device.tenantId, data: { deviceId: device.id, at: at() } })
      },
      seen: (device) => presence.seen(device.id),
      denied: (device, action, detail) => {
        metrics.denied.inc({ action })
        logger.warn({ deviceId: device?.id, action, detail }, 'mqtt action denied')
        audit.append({ tenantId: device?.tenantId ?? null, actorType: 'device', actorId: device?.id ?? null, action: `mqtt.${action}`, outcome: 'denied', detail: { detail } })
          .catch((err: Error) => logger.error({ err: err.message }, 'audit append failed'))
      },
      guardRejected: (rejection) => {
        metrics.streamRejections.inc({ reason: rejection.code })
        logger.debug({ rejection }, 'connection closed by the stream guard')
      }
    }
    const broker = await HubBroker.create(backend, {
      ...defaultBrokerLimits,
      publishRatePerDevice: config.devicePublishRate,
      publishBurst: config.devicePublishBurst,
      connectRatePerIp: config.connectRatePerIp,
      maxPacketBytes: config.mqttMaxFrameBytes,
      ...options.brokerLimits
    })
    // Commands are delivered once the device can receive them: when it subscribes to its commands, or
    // when it resumes a persistent session (whose subscriptions survive).
    broker.aedes.on('subscribe', (subscriptions, client) => {
      if (client !== null && subscriptions.some((sub) => sub.topic.startsWith(`devices/${client.id}/commands/`))) commands.deviceReady(client.id)
    })
    broker.aedes.on('clientReady', (client) => { if (!client.clean) commands.deviceReady(client.id) })
    // Closed first on shutdown (closers run in reverse): stop accepting and drop devices, then let the
    // batcher finish what it has, then write the last-seen times.
    const flushLastSeen = () => devices.recordLastSeen(presence.drainLastSeen()).catch((err: Error) => logger.warn({ err: err.message }, 'last-seen flush failed'))
    const lastSeenTimer = setInterval(flushLastSeen, LAST_SEEN_FLUSH_MS).unref()
    closers.push(async () => { clearInterval(lastSeenTimer); await flushLastSeen(); await presence.close() })
    closers.push(() => batcher.close())

    const sseStreams = new Set<() => void>()
    const tickets = new StreamTickets()
    let mqttUrl = ''
    const app = await buildApp({
      logger,
      database,
      users,
      devices,
      telemetry,
      presence,
      bus,
      eventLog,
      tickets,
      metrics,
      jwtSecret,
      brokerReady: () => !broker.aedes.closed,
      mqttUrl: () => mqttUrl,
      sseStreams,
      audit,
      redis,
      euicc,
      trustStore,
      operators,
      notifications,
      commands,
      campaigns,
      eim,
      es9plusRateLimit: options.es9plusRateLimit
    })
    broker.attachWebSocket(app.server)
    closers.push(() => broker.close())
    closers.push(async () => {
      for (const end of [...sseStreams]) end()
      await app.close()
    })
    await app.listen({ host: config.host, port: config.httpPort }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        throw Object.assign(new Error(`HTTP port ${config.httpPort} on ${config.host} is already in use (set HUB_HTTP_PORT to a free port, or 0 to pick one)`), { code: 'HUB_ERR_PORT_IN_USE' })
      }
      throw err
    })
    const httpPort = (app.server.address() as AddressInfo).port
    const mqttPort = await broker.listenTcp(config.host, config.mqttPort)
    const publicHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
    mqttUrl = `mqtt://${publicHost}:${mqttPort}`
    if (config.mqttsPort !== null) {
      const mqttsPort = await broker.listenTls(config.host, config.mqttsPort, {
        cert: readFileSync(config.tlsCert as string),
        key: readFileSync(config.tlsKey as string)
      })
      logger.info({ mqttsPort }, 'MQTT over TLS listening')
    }
    const recovered = await notifications.recoverInbox()
    if (recovered > 0) logger.info({ recovered }, 'processed the ES9+ notifications the previous run left in the inbox')
    logger.info({ httpPort, mqttPort, ws: `ws://${publicHost}:${httpPort}/mqtt` }, 'euicc-hub listening')

    return {
      httpPort,
      mqttPort,
      httpUrl: `http://${publicHost}:${httpPort}`,
      mqttUrl,
      bootstrap,
      database,
      broker,
      audit,
      logger,
      close
    }
  } catch (err) {
    await close()
    throw err
  }
}
