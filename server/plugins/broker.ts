import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { defaultBrokerLimits, HubBroker, type BrokerBackend, type BrokerLimits } from '../../broker/hub-broker.ts'
import { RedisAddressRate } from '../../broker/redis-address-rate.ts'
import { redisStores } from '../../broker/redis-stores.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The embedded Aedes broker with the hub's policies (broker/hub-broker.ts). */
    broker: HubBroker
    /** Publishes to a device (QoS 1; `dup` on a redelivery); resolves once the broker has taken it. */
    sendToDevice: (topic: string, payload: string, dup?: boolean) => Promise<void>
  }
}

export interface BrokerPluginOptions {
  /** Overrides of the limits the configuration sets (tests and benches). */
  limits?: Partial<BrokerLimits>
}

/** The broker, before the services that send to devices (`app.sendToDevice`). Its hooks — what a device
 * session does to the hub — are `app.deviceSessions` (device-sessions.ts), registered after the services
 * they call and resolved on each call: a device reaches them only through a listener, and the listeners
 * open once every plugin has loaded (mqtt-listeners.ts, onReady). MQTT over WebSocket shares the HTTP
 * server (`/mqtt`).
 *
 * Closed first, in `preClose`: no new MQTT connection, every device dropped, before the HTTP server
 * closes and before the batcher, the last-seen writer and the database (onClose, in reverse order of
 * registration). Nothing acknowledged is lost: a PUBACK follows the commit (docs/ingest.md). */
export const brokerPlugin = fp(async (app, opts: BrokerPluginOptions) => {
  const { config, redis } = app
  // With REDIS_URL, Aedes routes and keeps its sessions in Redis, shared with every hub process, and the
  // per-address connection rate is one bucket for all of them, on the shared command connection.
  const stores = config.redisUrl === null ? null : await redisStores(config.redisUrl, app.installationId, app.redisError)
  const connectRate = redis === null
    ? null
    : new RedisAddressRate(redis, app.installationId, (err) => {
      app.log.warn({ err: err.message }, 'connection rate: Redis unavailable; each process decides new connections from its own budget until it answers')
    })
  const broker = await HubBroker.create(deviceSessionsOf(app), {
    ...defaultBrokerLimits,
    publishRatePerDevice: config.devicePublishRate,
    publishBurst: config.devicePublishBurst,
    connectRatePerIp: config.connectRatePerIp,
    maxPacketBytes: config.mqttMaxFrameBytes,
    ...opts.limits
  }, { stores, connectRate })
  app.decorate('broker', broker)
  app.decorate('sendToDevice', (topic: string, payload: string, dup = false) => new Promise<void>((resolve, reject) => {
    broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup }, (err) => err === undefined || err === null ? resolve() : reject(err))
  }))
  app.metrics.probes.connections = () => broker.openConnections
  broker.attachWebSocket(app.server)
  let closing: Promise<void> | null = null
  const close = () => (closing ??= broker.close())
  app.addHook('preClose', close)
  // A start that failed before the app was ready has no preClose: the broker still closes.
  app.addHook('onClose', close)
}, { name: 'broker', dependencies: ['config', 'metrics', 'redis', 'identity'] })

/** The broker's hooks, each resolving `app.deviceSessions` when it is called. */
function deviceSessionsOf (app: FastifyInstance): BrokerBackend {
  const sessions = (): BrokerBackend => app.deviceSessions
  return {
    authenticate: (deviceId, secret) => sessions().authenticate(deviceId, secret),
    authenticateCertificate: (deviceId, serial) => sessions().authenticateCertificate(deviceId, serial),
    authenticateGatewayCertificate: (gatewayId, serial) => sessions().authenticateGatewayCertificate(gatewayId, serial),
    authenticateGateway: (gatewayId, secret) => sessions().authenticateGateway(gatewayId, secret),
    siteDevices: (tenantId, site) => sessions().siteDevices(tenantId, site),
    publish: (device, topic, packet) => sessions().publish(device, topic, packet),
    connected: (device) => { sessions().connected(device) },
    disconnected: (device, connection, moved) => { sessions().disconnected(device, connection, moved) },
    commandsReady: (device, connection) => { sessions().commandsReady(device, connection) },
    commandsGone: (device, connection) => { sessions().commandsGone(device, connection) },
    seen: (device) => { sessions().seen(device) },
    denied: (device, action, reason, detail) => { sessions().denied(device, action, reason, detail) },
    guardRejected: (rejection) => { sessions().guardRejected(rejection) }
  }
}
