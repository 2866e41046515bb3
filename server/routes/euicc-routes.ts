import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox'
import type { AuditLog } from '../audit/audit-log.ts'
import type { NotificationRow, ProfileRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import type { OperatorDirectory } from '../notifications/operator-directory.ts'
import type { TrustStore } from '../notifications/trust-store.ts'
import type { DeviceRepository } from '../repositories/device-repository.ts'
import type { EuiccRepository } from '../repositories/euicc-repository.ts'
import { ErrorBody, Limit, secured } from './schemas.ts'

export interface EuiccRouteDeps {
  devices: DeviceRepository
  euicc: EuiccRepository
  trustStore: TrustStore
  operators: OperatorDirectory
  audit: AuditLog
}

const Notification = Type.Object({
  id: Type.Integer(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  eid: Type.Union([Type.String(), Type.Null()]),
  seqNumber: Type.Union([Type.Integer(), Type.Null()]),
  kind: Type.Union([Type.String(), Type.Null()]),
  operation: Type.Union([Type.String(), Type.Null()]),
  iccid: Type.Union([Type.String(), Type.Null()]),
  notificationAddress: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  status: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  source: Type.String(),
  receivedAt: Type.String({ format: 'date-time' }),
  verifiedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})

const Profile = Type.Object({
  eid: Type.String(),
  iccid: Type.String(),
  state: Type.String(),
  seqNumber: Type.Union([Type.Integer(), Type.Null()]),
  cause: Type.String(),
  changedAt: Type.String({ format: 'date-time' }),
  reportedState: Type.Union([Type.String(), Type.Null()]),
  reportedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  conflict: Type.Union([Type.String(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
  spn: Type.Union([Type.String(), Type.Null()]),
  operator: Type.Union([Type.Object({ id: Type.String(), name: Type.String(), mcc: Type.String(), mnc: Type.String() }), Type.Null()])
})

const TrustAnchor = Type.Object({ id: Type.String(), subject: Type.String(), fingerprint: Type.String(), notAfter: Type.String(), source: Type.String() })

const NotificationFilters = {
  operation: Type.Optional(Type.String({ maxLength: 32 })),
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('rejected')])),
  reason: Type.Optional(Type.String({ maxLength: 32 })),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Limit(1000, 100),
  cursor: Type.Optional(Type.String({ maxLength: 200 }))
}
type NotificationFilterQuery = Static<ReturnType<typeof Type.Object<typeof NotificationFilters>>>

/** Notifications (per device and fleet-wide), profile inventory, operators and trust anchors;
 * `es9plus-routes.ts` holds the endpoint LPAs post to. */
export const euiccRoutes: FastifyPluginAsyncTypebox<EuiccRouteDeps> = async (app, deps) => {
  const { devices, euicc, trustStore, operators } = deps

  const toNotification = (n: NotificationRow) => ({
    id: n.id,
    deviceId: n.deviceId,
    eid: n.eid,
    seqNumber: n.seqNumber,
    kind: n.kind,
    operation: n.operation,
    iccid: n.iccid,
    notificationAddress: n.notificationAddress,
    result: (n.result ?? null) as Record<string, unknown> | null,
    status: n.status,
    reason: n.reason,
    detail: n.detail,
    source: n.source,
    receivedAt: n.receivedAt.toISOString(),
    verifiedAt: n.verifiedAt?.toISOString() ?? null
  })
  const toProfile = (p: ProfileRow) => {
    const operator = operators.list().find((o) => o.id === p.operatorId)
    return {
      eid: p.eid,
      iccid: p.iccid,
      state: p.state,
      seqNumber: p.seqNumber,
      cause: p.cause,
      changedAt: p.changedAt.toISOString(),
      reportedState: p.reportedState,
      reportedAt: p.reportedAt?.toISOString() ?? null,
      conflict: p.conflict,
      name: p.name,
      spn: p.spn,
      operator: operator === undefined ? null : { id: operator.id, name: operator.name, mcc: operator.mcc, mnc: operator.mnc }
    }
  }
  const listQuery = (tenantId: string, q: NotificationFilterQuery, deviceId?: string) => ({
    tenantId,
    deviceId,
    operation: q.operation,
    status: q.status,
    reason: q.reason,
    from: q.from === undefined ? undefined : new Date(q.from),
    to: q.to === undefined ? undefined : new Date(q.to),
    limit: q.limit,
    cursor: q.cursor
  })

  app.addHook('onRequest', app.authenticate)
  const admins = app.requireRole('admin')

  app.get('/api/notifications', {
    schema: { tags: ['euicc'], ...secured, querystring: Type.Object(NotificationFilters, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(Notification), nextCursor: Type.Union([Type.String(), Type.Null()]) }) } }
  }, async (request) => {
    const page = await euicc.listNotifications(listQuery(request.user.tid, request.query))
    return { items: page.items.map(toNotification), nextCursor: page.nextCursor }
  })

  app.get('/api/devices/:id/notifications', {
    schema: { tags: ['euicc'], ...secured, params: Type.Object({ id: Type.String({ maxLength: 64 }) }), querystring: Type.Object(NotificationFilters, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(Notification), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 404: ErrorBody } }
  }, async (request) => {
    if (await devices.get(request.user.tid, request.params.id) === null) throw new errors.NotFound('Device')
    const page = await euicc.listNotifications(listQuery(request.user.tid, request.query, request.params.id))
    return { items: page.items.map(toNotification), nextCursor: page.nextCursor }
  })

  app.get('/api/devices/:id/profiles', {
    schema: { tags: ['euicc'], ...secured, params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 200: Type.Object({ eid: Type.Union([Type.String(), Type.Null()]), items: Type.Array(Profile) }), 404: ErrorBody } }
  }, async (request) => {
    const device = await devices.get(request.user.tid, request.params.id)
    if (device === null) throw new errors.NotFound('Device')
    const rows = await euicc.profilesOfDevice(request.user.tid, device.id, device.eid)
    return { eid: device.eid, items: rows.map(toProfile) }
  })

  app.get('/api/operators', {
    schema: { tags: ['euicc'], ...secured, response: { 200: Type.Object({ items: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), country: Type.String(), mcc: Type.String(), mnc: Type.String(), iccidPrefix: Type.String() })) }) } }
  }, async () => ({ items: operators.list().map(({ id, name, country, mcc, mnc, iccidPrefix }) => ({ id, name, country, mcc, mnc, iccidPrefix })) }))

  app.get('/api/euicc/trust-anchors', {
    schema: { tags: ['euicc'], ...secured, response: { 200: Type.Object({ items: Type.Array(TrustAnchor) }) } }
  }, async () => ({ items: trustStore.list() }))

  app.post('/api/euicc/trust-anchors', {
    onRequest: admins,
    config: { audit: false }, // audited below, with the certificate's fingerprint and subject
    schema: { tags: ['euicc'], ...secured, body: Type.Object({ certificate: Type.String({ minLength: 100, maxLength: 20_000 }) }, { additionalProperties: false }), response: { 201: TrustAnchor, 400: ErrorBody } }
  }, async (request, reply) => {
    let anchor
    try {
      anchor = await trustStore.add(request.body.certificate, request.user.sub)
    } catch (err) {
      if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_OSSL_PEM_NO_START_LINE' || /certificate|asn1|ASN1/.test((err as Error).message)) {
        throw new errors.BadRequest('certificate must be a CI certificate, PEM or base64 DER: ' + (err as Error).message)
      }
      throw err
    }
    await deps.audit.append({ tenantId: request.user.tid, actorType: 'user', actorId: request.user.sub, action: 'euicc.trust-anchor.add', target: anchor.fingerprint, outcome: 'success', detail: { subject: anchor.subject }, ip: request.ip })
    reply.code(201)
    return anchor
  })

  app.delete('/api/euicc/trust-anchors/:id', {
    onRequest: admins,
    config: { audit: false },
    schema: { tags: ['euicc'], ...secured, params: Type.Object({ id: Type.String({ maxLength: 80 }) }), response: { 204: Type.Null(), 404: ErrorBody } }
  }, async (request, reply) => {
    if (!/^[0-9a-f-]{36}$/.test(request.params.id)) throw new errors.NotFound('Trust anchor')
    const removed = await trustStore.remove(request.params.id)
    if (removed === null) throw new errors.NotFound('Trust anchor')
    await deps.audit.append({ tenantId: request.user.tid, actorType: 'user', actorId: request.user.sub, action: 'euicc.trust-anchor.remove', target: removed.fingerprint, outcome: 'success', detail: { subject: removed.subject }, ip: request.ip })
    reply.code(204)
    return null
  })
}
