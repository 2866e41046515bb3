import fp from 'fastify-plugin'
import type { BrokerBackend } from '../../broker/hub-broker.ts'
import { DenialDigest } from '../audit/denial-digest.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** What a device session does to the hub: the broker's hooks (broker.ts resolves them per call). */
    deviceSessions: BrokerBackend
  }
}

export interface DeviceSessionsOptions {
  /** Window of the refused-MQTT-action audit digest (ms; default 60 s). */
  denialDigestMs?: number
}

/** Device sessions: authentication (secret or client certificate, of a device or a site gateway), publishes into device ingest,
 * presence and `device.online`/`device.offline`, command delivery on a held subscription, and refused
 * actions (metrics, log, one audit entry per digest window). Deleting, disabling or re-crediting a
 * device ends its sessions on every process (the bus is Redis pub/sub when several share one). */
export const deviceSessionsPlugin = fp(async (app, opts: DeviceSessionsOptions) => {
  const { audit, bus, commands, devices, metrics, presence } = app
  const at = () => new Date().toISOString()
  const denials = new DenialDigest((entry) => {
    audit.append(entry).catch((err: Error) => app.log.error({ err: err.message }, 'audit append failed'))
  }, opts.denialDigestMs)
  const sessions: BrokerBackend = {
    authenticate: (id, secret) => devices.authenticate(id, secret),
    authenticateCertificate: (id, serial) => app.deviceCertificates.repository.authenticate(id, serial),
    authenticateGatewayCertificate: (id, serial) => app.deviceCertificates.gatewayRepository.authenticate(id, serial),
    authenticateGateway: (id, secret) => app.gateways.authenticate(id, secret),
    siteDevices: (tenantId, site) => app.gateways.siteDevices(tenantId, site),
    publish: app.deviceIngest.handle,
    connected: (device) => {
      presence.connected(device.id, device.tenantId)
      bus.publish({ type: 'device.online', tenantId: device.tenantId, data: { deviceId: device.id, at: at() } })
    },
    disconnected: (device, connection, moved = false) => {
      commands.deviceGone(device.id, connection)
      const offlineAt = at()
      // Not when its session moved to another process: taken over there (`moved`), or held there by the
      // time this close is handled (presence, through Redis, knows who holds it).
      presence.disconnected(device.id, moved, () => { bus.publish({ type: 'device.offline', tenantId: device.tenantId, data: { deviceId: device.id, at: offlineAt } }) })
    },
    commandsReady: (device, connection) => { commands.deviceReady(device.id, connection) },
    commandsGone: (device, connection) => { commands.deviceGone(device.id, connection) },
    seen: (device) => presence.seen(device.id),
    denied: (device, action, reason, detail) => {
      metrics.denied.inc({ action })
      app.log.warn({ deviceId: device?.id, action, reason, detail }, 'mqtt action denied')
      denials.record(`${action}:${reason}:${device?.id ?? ''}`,
        { tenantId: device?.tenantId ?? null, actorType: 'device', actorId: device?.id ?? null, action: `mqtt.${action}`, outcome: 'denied', detail: { reason, detail } },
        detail)
    },
    guardRejected: (rejection) => {
      metrics.streamRejections.inc({ reason: rejection.code })
      app.log.debug({ rejection }, 'connection closed by the stream guard')
    }
  }
  app.decorate('deviceSessions', sessions)
  const endSessions = bus.subscribe((event) => {
    if (event.type === 'device.deleted' || event.type === 'device.credentials-revoked') app.broker.endSessions(event.data.deviceId)
    if (event.type === 'gateway.revoked') app.broker.endSessions(event.data.gatewayId)
  })
  app.addHook('onClose', async () => {
    endSessions()
    denials.close()
    await audit.flush()
  })
}, { name: 'device-sessions', dependencies: ['broker', 'audit', 'bus', 'commands', 'repositories', 'presence', 'metrics', 'device-certificates', 'device-ingest'] })
