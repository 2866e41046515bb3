import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { NotificationRow, ProfileRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { Cursor, ErrorBody, Id, IdParams, Limit, parseTimestamp, secured, Text, Timestamp, Uuid } from './schemas.ts'

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

const TrustAnchor = Type.Object({
  id: Type.String(),
  subject: Type.String(),
  fingerprint: Type.String(),
  notAfter: Type.String(),
  source: Type.String(),
  scope: Type.Union([Type.Literal('platform'), Type.Literal('tenant')]),
  tenantId: Type.Union([Type.String(), Type.Null()])
})

const NotificationFilters = {
  operation: Type.Optional(Text(32)),
  status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('rejected')])),
  reason: Type.Optional(Text(32)),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  limit: Limit(1000, 100),
  cursor: Type.Optional(Cursor)
}
type NotificationFilterQuery = Static<ReturnType<typeof Type.Object<typeof NotificationFilters>>>

/** Notifications (per device and fleet-wide), profile inventory, operators and trust anchors;
 * `es9plus-routes.ts` holds the endpoint LPAs post to. */
export const euiccRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, euicc, trustStore, operators } = app

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
    from: q.from === undefined ? undefined : parseTimestamp(q.from) ?? undefined,
    to: q.to === undefined ? undefined : parseTimestamp(q.to) ?? undefined,
    limit: q.limit,
    cursor: q.cursor
  })
  const admins = app.requireRole('admin')

  app.get('/api/notifications', {
    schema: { tags: ['euicc'], ...secured, querystring: Type.Object(NotificationFilters, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(Notification), nextCursor: Type.Union([Type.String(), Type.Null()]) }) } }
  }, async (request) => {
    const page = await euicc.listNotifications(listQuery(request.user.tid, request.query))
    return { items: page.items.map(toNotification), nextCursor: page.nextCursor }
  })

  app.get('/api/devices/:id/notifications', {
    schema: { tags: ['euicc'], ...secured, params: IdParams, querystring: Type.Object(NotificationFilters, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(Notification), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 404: ErrorBody } }
  }, async (request) => {
    if (await devices.get(request.user.tid, request.params.id) === null) throw new errors.NotFound('Device')
    const page = await euicc.listNotifications(listQuery(request.user.tid, request.query, request.params.id))
    return { items: page.items.map(toNotification), nextCursor: page.nextCursor }
  })

  // The inventory: what is on the eUICC now (enabled or disabled). A deleted profile leaves the list and
  // stays in the history (`includeDeleted=true`, and the device's notifications).
  app.get('/api/devices/:id/profiles', {
    schema: {
      tags: ['euicc'],
      ...secured,
      params: IdParams,
      querystring: Type.Object({ includeDeleted: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: Type.Object({ eid: Type.Union([Type.String(), Type.Null()]), items: Type.Array(Profile) }), 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    const device = await devices.get(request.user.tid, request.params.id)
    if (device === null) throw new errors.NotFound('Device')
    const rows = await app.inventory.ofDevice(request.user.tid, device.id, device.eid, request.query.includeDeleted === true)
    return { eid: device.eid, items: rows.map(toProfile) }
  })

  app.get('/api/operators', {
    schema: { tags: ['euicc'], ...secured, response: { 200: Type.Object({ items: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), country: Type.String(), mcc: Type.String(), mnc: Type.String(), iccidPrefix: Type.String() })) }) } }
  }, async () => ({ items: operators.list().map(({ id, name, country, mcc, mnc, iccidPrefix }) => ({ id, name, country, mcc, mnc, iccidPrefix })) }))

  /** Platform admins manage the platform's anchors (trusted for every tenant) and may name a tenant; a
   * tenant's admins manage their own tenant's only. */
  const platformAdmin = (request: FastifyRequest) => request.user.pa === true && request.user.kind !== 'api-key'

  app.get('/api/euicc/trust-anchors', {
    schema: { tags: ['euicc'], ...secured, response: { 200: Type.Object({ items: Type.Array(TrustAnchor) }) } }
  }, async (request) => ({ items: trustStore.list(request.user.tid, platformAdmin(request)) }))

  app.post('/api/euicc/trust-anchors', {
    onRequest: admins,
    config: { audit: false }, // audited below, with the certificate's fingerprint and subject
    schema: {
      tags: ['euicc'],
      ...secured,
      body: Type.Object({
        certificate: Type.String({ minLength: 100, maxLength: 20_000 }),
        /** Platform admins: the tenant the anchor is for (absent: a platform anchor). Others: their own or absent. */
        tenantId: Type.Optional(Uuid)
      }, { additionalProperties: false }),
      response: { 201: TrustAnchor, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody }
    }
  }, async (request, reply) => {
    const named = request.body.tenantId
    let scope: string | null
    if (platformAdmin(request)) {
      scope = named ?? null
    } else {
      if (named !== undefined && named !== request.user.tid) throw new errors.Forbidden()
      scope = request.user.tid
    }
    let anchor
    try {
      anchor = await trustStore.add(request.body.certificate, request.user.kind === 'api-key' ? null : request.user.sub, scope)
    } catch (err) {
      const code = (err as { code?: string, cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code
      if (code === '23503') throw new errors.NotFound('Tenant') // a platform admin named a tenant that does not exist
      if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_OSSL_PEM_NO_START_LINE' || /certificate|asn1|ASN1/.test((err as Error).message)) {
        throw new errors.BadRequest('certificate must be a CI certificate, PEM or base64 DER: ' + (err as Error).message)
      }
      throw err
    }
    await app.audit.append({ tenantId: request.user.tid, actorType: request.user.kind === 'api-key' ? 'api-key' : 'user', actorId: request.user.sub, action: 'euicc.trust-anchor.add', target: anchor.fingerprint, outcome: 'success', detail: { subject: anchor.subject, scope: anchor.scope, anchorTenantId: anchor.tenantId }, ip: request.ip })
    reply.code(201)
    return anchor
  })

  app.delete('/api/euicc/trust-anchors/:id', {
    onRequest: admins,
    config: { audit: false },
    schema: { tags: ['euicc'], ...secured, params: Type.Object({ id: Id }), response: { 204: Type.Null(), 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } }
  }, async (request, reply) => {
    const everything = platformAdmin(request)
    // Another tenant's anchor is not visible: 404, as for every other object of another tenant.
    const visible = trustStore.find(request.params.id, request.user.tid, everything)
    if (visible === null) throw new errors.NotFound('Trust anchor')
    const refuse = async (err: Error) => {
      await app.audit.append({ tenantId: request.user.tid, actorType: request.user.kind === 'api-key' ? 'api-key' : 'user', actorId: request.user.sub, action: 'euicc.trust-anchor.remove', target: visible.fingerprint, outcome: 'denied', detail: { subject: visible.subject, scope: visible.scope }, ip: request.ip })
      throw err
    }
    if (visible.source === 'directory') return await refuse(new errors.DirectoryTrustAnchor())
    if (visible.scope === 'platform' && !everything) return await refuse(new errors.PlatformTrustAnchor())
    const removed = await trustStore.remove(visible.id, visible.tenantId)
    if (removed === null) throw new errors.NotFound('Trust anchor')
    await app.audit.append({ tenantId: request.user.tid, actorType: request.user.kind === 'api-key' ? 'api-key' : 'user', actorId: request.user.sub, action: 'euicc.trust-anchor.remove', target: removed.fingerprint, outcome: 'success', detail: { subject: removed.subject, scope: removed.scope, anchorTenantId: removed.tenantId }, ip: request.ip })
    reply.code(204)
    return null
  })
}
