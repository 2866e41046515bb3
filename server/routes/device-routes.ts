import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.ts'
import { CertificateInputError, verifyRegisteredCertificates } from '../trust/registered-certificate.ts'
import type { NotificationSummary } from '../repositories/euicc-repository.ts'
import type { PublicDevice } from '../repositories/device-repository.ts'
import type { TelemetryItem } from '../repositories/telemetry-repository.ts'
import { Cursor, Device, DeviceCreate, DevicePatch, type DeviceView, ErrorBody, IdParams, Limit, Page, secured, Text } from './schemas.ts'

/** A unique violation on `devices.eid`: EIDs are unique hub-wide (ES9+ binds by EID). */
const eidTaken = (err: { code?: string, constraint_name?: string, constraint?: string, message?: string, cause?: { code?: string, constraint_name?: string, constraint?: string, message?: string } }): boolean => {
  const e = err.code === '23505' ? err : err.cause?.code === '23505' ? err.cause : null
  if (e === null) return false
  const name = e.constraint_name ?? e.constraint ?? e.message ?? ''
  return /eid/.test(name)
}

/** Device CRUD, scoped to the caller's tenant; another tenant's device answers 404. */
export const deviceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, presence, bus } = app
  const writers = app.requireRole('admin', 'operator', 'technician')

  /** The API view of devices: presence from memory/Redis, the newest sample and the notification summary
   * from the database (one query each for the whole page). */
  async function view (tenantId: string, rows: PublicDevice[]): Promise<DeviceView[]> {
    const ids = rows.map((d) => d.id)
    const [online, latest, notified] = await Promise.all([presence.onlineOf(tenantId, ids), app.telemetry.latestOf(ids), app.euicc.notificationSummaryOf(ids)])
    return rows.map((d) => {
      // The table's last_seen_at is written every few seconds; this process may know a newer time.
      const seen = presence.lastSeenHere(d.id)
      const device = seen !== undefined && (d.lastSeenAt === null || d.lastSeenAt.getTime() < seen) ? { ...d, lastSeenAt: new Date(seen) } : d
      return toView(device, online.has(d.id), latest.get(d.id) ?? null, notified.get(d.id) ?? null)
    })
  }

  app.post('/api/devices', {
    onRequest: writers,
    schema: {
      tags: ['devices'],
      ...secured,
      body: DeviceCreate,
      response: {
        201: Type.Object({
          device: Device,
          credentials: Type.Object({ clientId: Type.String(), username: Type.String(), password: Type.String(), mqttUrl: Type.String() })
        }),
        409: ErrorBody
      }
    }
  }, async (request, reply) => {
    const { euiccCertificate, eumCertificate, ...fields } = request.body
    let registered: ReturnType<typeof verifyRegisteredCertificates> | null = null
    if (euiccCertificate !== undefined) {
      // The same GSMA chain check as a certificate learned from a notification, against the anchors
      // trusted for this tenant's devices (RELIABILITY 57).
      try {
        registered = verifyRegisteredCertificates(euiccCertificate, eumCertificate, app.trustStore.anchors(request.user.tid), fields.eid)
      } catch (err) {
        if (err instanceof CertificateInputError) throw new errors.InvalidEuiccCertificate('euiccCertificate: ' + err.message)
        throw err
      }
      fields.eid = registered.eid
    } else if (eumCertificate !== undefined) {
      throw new errors.InvalidEuiccCertificate('eumCertificate: given without euiccCertificate')
    }
    const { device, secret } = await devices.create(request.user.tid, fields).catch((err) => {
      if (eidTaken(err)) throw new errors.EidTaken()
      throw err
    })
    if (registered !== null) {
      const { eid, euiccDer, eumDer } = registered
      await app.euiccCertificates.register(eid, euiccDer, eumDer)
    }
    const [body] = await view(request.user.tid, [device])
    bus.publish({ type: 'device.created', tenantId: request.user.tid, data: { device: body } })
    reply.code(201)
    return { device: body, credentials: { clientId: device.id, username: device.id, password: secret, mqttUrl: app.mqttListeners.url } }
  })

  app.get('/api/devices', {
    schema: {
      tags: ['devices'],
      ...secured,
      querystring: Type.Object({
        q: Type.Optional(Text(100)),
        status: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline')])),
        tag: Type.Optional(Text(64)),
        site: Type.Optional(Text(64)),
        operator: Type.Optional(Text(64)),
        limit: Limit(1000, 100),
        cursor: Type.Optional(Cursor)
      }, { additionalProperties: false }),
      response: { 200: Page(Device), 400: ErrorBody }
    }
  }, async (request) => {
    const { status, ...query } = request.query
    const tenantId = request.user.tid
    let onlyIds: string[] | undefined
    let exceptIds: string[] | undefined
    if (status !== undefined) {
      // Presence lives in memory (or Redis), not in the table: filter by the set of online devices.
      const online = await presence.onlineIds(tenantId)
      if (status === 'online') onlyIds = online
      else exceptIds = online
    }
    const page = await devices.list(tenantId, { ...query, onlyIds, exceptIds })
    return { items: await view(tenantId, page.items), nextCursor: page.nextCursor }
  })

  app.get('/api/devices/:id', {
    schema: { tags: ['devices'], ...secured, params: IdParams, response: { 200: Device, 404: ErrorBody } }
  }, async (request) => {
    const device = await devices.get(request.user.tid, request.params.id)
    if (device === null) throw new errors.NotFound('Device')
    return (await view(request.user.tid, [device]))[0]
  })

  app.patch('/api/devices/:id', {
    onRequest: writers,
    schema: { tags: ['devices'], ...secured, params: IdParams, body: DevicePatch, response: { 200: Device, 404: ErrorBody, 409: ErrorBody } }
  }, async (request) => {
    // A plan of another tenant is as good as none: 404, the same as a plan that does not exist.
    if (typeof request.body.planId === 'string' && !await app.plans.belongsTo(request.user.tid, request.body.planId)) throw new errors.NotFound('Plan')
    const device = await devices.update(request.user.tid, request.params.id, request.body).catch((err) => {
      if (eidTaken(err)) throw new errors.EidTaken() // RELIABILITY 61: names neither the holder nor its tenant
      throw err
    })
    if (device === null) throw new errors.NotFound('Device')
    if (request.body.disabled === true) {
      bus.publish({ type: 'device.credentials-revoked', tenantId: request.user.tid, data: { deviceId: device.id, reason: 'disabled' } })
    }
    return (await view(request.user.tid, [device]))[0]
  })

  app.post('/api/devices/:id/credentials/rotate', {
    onRequest: writers,
    schema: {
      tags: ['devices'],
      ...secured,
      params: IdParams,
      response: { 200: Type.Object({ clientId: Type.String(), username: Type.String(), password: Type.String(), mqttUrl: Type.String() }), 404: ErrorBody }
    }
  }, async (request) => {
    // The new secret is shown once; the old one stops working with this commit and its sessions end.
    const secret = await devices.rotateSecret(request.user.tid, request.params.id)
    if (secret === null) throw new errors.NotFound('Device')
    bus.publish({ type: 'device.credentials-revoked', tenantId: request.user.tid, data: { deviceId: request.params.id, reason: 'secret-rotated' } })
    return { clientId: request.params.id, username: request.params.id, password: secret, mqttUrl: app.mqttListeners.url }
  })

  app.delete('/api/devices/:id', {
    onRequest: writers,
    schema: { tags: ['devices'], ...secured, params: IdParams, response: { 204: Type.Null(), 404: ErrorBody } }
  }, async (request, reply) => {
    if (!await devices.delete(request.user.tid, request.params.id)) throw new errors.NotFound('Device')
    bus.publish({ type: 'device.deleted', tenantId: request.user.tid, data: { deviceId: request.params.id } })
    reply.code(204)
    return null
  })

  app.get('/api/fleet/summary', {
    schema: {
      tags: ['fleet'],
      ...secured,
      response: { 200: Type.Object({ total: Type.Integer(), online: Type.Integer(), offline: Type.Integer() }) }
    }
  }, async (request) => {
    const [total, online] = await Promise.all([devices.count(request.user.tid), presence.onlineCount(request.user.tid)])
    return { total, online: Math.min(online, total), offline: Math.max(0, total - online) }
  })
}

function toView (device: PublicDevice, online: boolean, latest: TelemetryItem | null, notified: NotificationSummary | null): DeviceView {
  return {
    id: device.id,
    name: device.name,
    eid: device.eid,
    imei: device.imei,
    tags: device.tags,
    esimAgent: device.esimAgent,
    disabled: device.disabled,
    site: device.site,
    status: online ? 'online' : 'offline',
    lastSeenAt: device.lastSeenAt?.toISOString() ?? null,
    createdAt: device.createdAt.toISOString(),
    updatedAt: device.updatedAt.toISOString(),
    latestTelemetry: latest,
    lastNotification: notified?.lastNotification ?? null,
    notificationCounts: notified?.notificationCounts ?? { accepted: 0, rejected: 0 }
  }
}
