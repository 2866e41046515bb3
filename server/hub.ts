import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Redis } from 'ioredis'
import pino, { type Logger } from 'pino'
import { defaultBrokerLimits, HubBroker, type BrokerBackend, type BrokerLimits } from '../broker/hub-broker.ts'
import { buildApp } from './app.ts'
import { listenHttps } from './https-listener.ts'
import { bootstrapAdmin, type BootstrapResult } from './auth/admin-bootstrap.ts'
import { LocalEventBus, RedisEventBus, type EventBus } from './bus/event-bus.ts'
import { Presence } from './bus/presence.ts'
import { connectRedis } from './bus/redis-connection.ts'
import type { HubConfig } from './config.ts'
import { openDatabase, type Database } from './db/database.ts'
import { PortInUseError } from './errors.ts'
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
import { DeviceCertificates } from './device-ca/device-certificates.ts'
import { DenialDigest } from './audit/denial-digest.ts'

/** How often in-memory last-seen times are written to the devices table. */
const LAST_SEEN_FLUSH_MS = 5000

export interface HubOptions {
  logger?: Logger
  brokerLimits?: Partial<BrokerLimits>
  ingest?: Partial<IngestBatcherOptions>
  /** Command expiry sweep interval (ms; default 1000). */
  commands?: { sweepMs?: number, campaignTickMs?: number }
  /** Window of the refused-MQTT-action audit digest (ms; default 60 s). */
  denialDigestMs?: number
  /** ES9+ handleNotification posts per source address and window (default 60 a minute). */
  es9plusRateLimit?: { max: number, timeWindowMs: number }
}

export interface Hub {
  readonly httpPort: number
  readonly mqttPort: number
  readonly httpUrl: string
  /** HUB_HTTPS_PORT's listener (the same app over TLS), or null. */
  readonly httpsPort: number | null
  readonly httpsUrl: string | null
  readonly mqttUrl: string
  /** HUB_MQTTS_PORT's listener (MQTT over TLS, client certificates accepted), or null. */
  readonly mqttsPort: number | null
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
    const sendToDevice = (topic: string, payload: string, dup = false) => new Promise<void>((resolve, reject) => {
      broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup }, (err) => err === undefined || err === null ? resolve() : reject(err))
    })
    const eim = await loadEimIdentity((key, create) => users.setting(key, create))
    const deviceCertificates = await DeviceCertificates.start({ database, bus, setting: (key, create) => users.setting(key, create), onError: (err) => logger.error({ err: err.message }, 'reloading revoked device certificates failed') })
    closers.push(async () => deviceCertificates.close())
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
    const denials = new DenialDigest((entry) => {
      audit.append(entry).catch((err: Error) => logger.error({ err: err.message }, 'audit append failed'))
    }, options.denialDigestMs)
    closers.push(async () => { denials.close(); await audit.flush() })
    const backend: BrokerBackend = {
      authenticate: (id, secret) => devices.authenticate(id, secret),
      authenticateCertificate: (id, serial) => deviceCertificates.repository.authenticate(id, serial),
      publish: ingest.handle,
      connected: (device) => {
        presence.connected(device.id, device.tenantId)
        bus.publish({ type: 'device.online', tenantId: device.tenantId, data: { deviceId: device.id, at: at() } })
      },
      disconnected: (device, connection) => {
        commands.deviceGone(device.id, connection)
        presence.disconnected(device.id)
        bus.publish({ type: 'device.offline', tenantId: device.tenantId, data: { deviceId: device.id, at: at() } })
      },
      commandsReady: (device, connection) => { commands.deviceReady(device.id, connection) },
      seen: (device) => presence.seen(device.id),
      denied: (device, action, reason, detail) => {
        metrics.denied.inc({ action })
        logger.warn({ deviceId: device?.id, action, reason, detail }, 'mqtt action denied')
        denials.record(`${action}:${reason}:${device?.id ?? ''}`,
          { tenantId: device?.tenantId ?? null, actorType: 'device', actorId: device?.id ?? null, action: `mqtt.${action}`, outcome: 'denied', detail: { reason, detail } },
          detail)
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
    metrics.probes.connections = () => broker.openConnections
    // Deleting, disabling or re-crediting a device ends its sessions on every process (the bus is Redis
    // pub/sub when several processes share one).
    const endSessions = bus.subscribe((event) => {
      if (event.type === 'device.deleted' || event.type === 'device.credentials-revoked') broker.endSessions(event.data.deviceId)
    })
    closers.push(async () => { endSessions() })
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
      deviceCertificates,
      es9plusRateLimit: options.es9plusRateLimit,
      trustProxy: config.trustProxy,
      metricsToken: config.metricsToken
    })
    broker.attachWebSocket(app.server)
    closers.push(() => broker.close())
    closers.push(async () => {
      for (const end of [...sseStreams]) end()
      await app.close()
    })
    await app.listen({ host: config.host, port: config.httpPort }).catch(PortInUseError.of('HTTP', config.host, config.httpPort, 'HUB_HTTP_PORT'))
    const httpPort = (app.server.address() as AddressInfo).port
    const https = await listenHttps(app, config)
    if (https !== null) closers.push(() => https.close())
    const mqttPort = await broker.listenTcp(config.host, config.mqttPort).catch(PortInUseError.of('MQTT', config.host, config.mqttPort, 'HUB_MQTT_PORT'))
    const publicHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
    mqttUrl = `mqtt://${publicHost}:${mqttPort}`
    let mqttsPort: number | null = null
    if (config.mqttsPort !== null) {
      mqttsPort = await broker.listenTls(config.host, config.mqttsPort, {
        cert: readFileSync(config.tlsCert as string),
        key: readFileSync(config.tlsKey as string)
      }, deviceCertificates.gate).catch(PortInUseError.of('MQTT/TLS', config.host, config.mqttsPort, 'HUB_MQTTS_PORT'))
      logger.info({ mqttsPort }, 'MQTT over TLS listening (client certificates of the device CA accepted)')
    }
    const recovered = await notifications.recoverInbox()
    if (recovered > 0) logger.info({ recovered }, 'processed the ES9+ notifications the previous run left in the inbox')
    logger.info({ httpPort, mqttPort, ws: `ws://${publicHost}:${httpPort}/mqtt` }, 'euicc-hub listening')

    return {
      httpPort,
      mqttPort,
      httpUrl: `http://${publicHost}:${httpPort}`,
      httpsPort: https?.port ?? null,
      httpsUrl: https === null ? null : `https://${publicHost}:${https.port}`,
      mqttUrl,
      mqttsPort,
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
