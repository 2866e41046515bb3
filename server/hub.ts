import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { HubBroker } from '../broker/hub-broker.ts'
import { buildApp, type HubOptions } from './app.ts'
import type { AuditLog } from './audit/audit-log.ts'
import type { BootstrapResult } from './auth/admin-bootstrap.ts'
import type { HubConfig } from './config.ts'
import type { Database } from './db/database.ts'
import { PortInUseError } from './errors.ts'
import { publicHost } from './plugins/config.ts'

export type { HubOptions } from './app.ts'

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
  /** Stops accepting, finishes in-flight writes, ends SSE streams, closes connections (`app.close()`:
   * the order is the plugin tree's, docs/architecture.md "The plugin tree"). Never rejects. */
  close (): Promise<void>
}

/** Opens the HTTP listener; the MQTT and HTTPS listeners open as the app becomes ready (their plugins). */
export async function listen (app: FastifyInstance): Promise<Hub> {
  const { config } = app
  await app.listen({ host: config.host, port: config.httpPort }).catch(PortInUseError.of('HTTP', config.host, config.httpPort, 'HUB_HTTP_PORT'))
  const host = publicHost(config)
  const httpPort = (app.server.address() as AddressInfo).port
  const httpsPort = app.httpsListener.port
  const mqttPort = app.mqttListeners.port
  app.log.info({ httpPort, mqttPort, ws: `ws://${host}:${httpPort}/mqtt` }, 'euicc-hub listening')
  let closing: Promise<void> | null = null
  return {
    httpPort,
    mqttPort,
    httpUrl: `http://${host}:${httpPort}`,
    httpsPort,
    httpsUrl: httpsPort === null ? null : `https://${host}:${httpsPort}`,
    mqttUrl: app.mqttListeners.url,
    mqttsPort: app.mqttListeners.tlsPort,
    bootstrap: app.bootstrap,
    database: app.database,
    broker: app.broker,
    audit: app.audit,
    logger: app.log as Logger,
    close: () => (closing ??= closeApp(app))
  }
}

/** Starts the whole hub in this process: database (migrated), optional Redis, broker, HTTP API. A start
 * that fails closes what it had opened and rejects. */
export async function startHub (config: HubConfig, options: HubOptions = {}): Promise<Hub> {
  const app = await buildApp(config, options)
  try {
    return await listen(app)
  } catch (err) {
    await closeApp(app)
    throw err
  }
}

async function closeApp (app: FastifyInstance): Promise<void> {
  await app.close().catch((err: unknown) => app.log.error({ err }, 'error while closing'))
}
