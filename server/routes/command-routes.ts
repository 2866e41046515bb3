import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import QRCode from 'qrcode'
import { COMMAND_OPS, ICCID_PATTERN, parseActivationCode } from '../../protocol/commands.ts'
import { commandStatuses, type CommandRow } from '../db/schema/index.ts'
import { commandEventData } from '../commands/command-events.ts'
import { MAX_TTL_SECONDS, type Requester } from '../commands/command-transitions.ts'
import { errors } from '../errors.ts'
import { Cursor, ErrorBody, IdParams, Limit, nullable, secured, Text } from './schemas.ts'

const IsoDate = Type.String({ format: 'date-time' })

export const Command = Type.Object({
  id: Type.String(),
  deviceId: Type.String(),
  op: Type.String(),
  iccid: nullable(Type.String()),
  activationCode: nullable(Type.String()),
  status: Type.String(),
  requestedBy: Type.String(),
  campaignId: nullable(Type.String()),
  createdAt: IsoDate,
  expiresAt: IsoDate,
  sentAt: nullable(IsoDate),
  finishedAt: nullable(IsoDate),
  deliveries: Type.Integer(),
  euicc: nullable(Type.Object({ eid: Type.String(), counterValue: Type.Integer(), eimTransactionId: Type.String() })),
  result: nullable(Type.Object({}, { additionalProperties: true })),
  error: nullable(Type.Object({ code: Type.String(), message: Type.String() }))
})

export const CommandCreate = Type.Object({
  op: Type.Union(COMMAND_OPS.map((op) => Type.Literal(op))),
  iccid: Type.Optional(Type.String({ pattern: ICCID_PATTERN })),
  activationCode: Type.Optional(Text(512, { minLength: 1 })),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS }))
}, { additionalProperties: false })

/** The API view of a command: its event data plus the activation code, deliveries, eUICC package
 * details and the device's answer. */
export function toCommandView (row: CommandRow) {
  return {
    ...commandEventData(row),
    activationCode: row.activationCode,
    deliveries: row.deliveries,
    euicc: row.counterValue === null || row.eid === null || row.eimTransactionId === null ? null : { eid: row.eid, counterValue: row.counterValue, eimTransactionId: row.eimTransactionId },
    result: (row.result ?? null) as Record<string, unknown> | null
  }
}

export const requesterOf = (request: FastifyRequest): Requester =>
  ({ type: request.user.kind === 'api-key' ? 'api-key' : 'user', id: request.user.sub, ip: request.ip })

/** eSIM operations on one device, the eIM identity and activation-code QR images (docs/operations.md).
 * Operators and admins run operations; every role reads. The mutations audit themselves (with the
 * requester and the command id). */
export const commandRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { commands, devices } = app
  const operators = app.requireRole('admin', 'operator')

  app.post('/api/devices/:id/commands', {
    onRequest: operators,
    config: { audit: false },
    schema: { tags: ['commands'], ...secured, params: IdParams, body: CommandCreate, response: { 202: Command, 400: ErrorBody, 404: ErrorBody } }
  }, async (request, reply) => {
    const device = await devices.get(request.user.tid, request.params.id)
    if (device === null) throw new errors.NotFound('Device')
    const body = request.body
    const row = await commands.create({
      tenantId: request.user.tid,
      deviceId: device.id,
      op: body.op,
      iccid: body.iccid ?? null,
      activationCode: body.activationCode ?? null,
      ...(body.ttlSeconds === undefined ? {} : { ttlSeconds: body.ttlSeconds }),
      requester: requesterOf(request)
    })
    reply.code(202)
    return toCommandView(row)
  })

  app.get('/api/devices/:id/commands', {
    schema: {
      tags: ['commands'],
      ...secured,
      params: IdParams,
      querystring: Type.Object({ limit: Limit(500, 50), cursor: Type.Optional(Cursor), status: Type.Optional(Type.Union(commandStatuses.map((s) => Type.Literal(s)))) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Command), nextCursor: nullable(Type.String()) }), 404: ErrorBody }
    }
  }, async (request) => {
    if (await devices.get(request.user.tid, request.params.id) === null) throw new errors.NotFound('Device')
    const page = await commands.listByDevice(request.user.tid, request.params.id, request.query.limit, request.query.cursor, request.query.status)
    return { items: page.items.map(toCommandView), nextCursor: page.nextCursor }
  })

  app.get('/api/commands/:id', {
    schema: { tags: ['commands'], ...secured, params: IdParams, response: { 200: Command, 404: ErrorBody } }
  }, async (request) => {
    const row = await commands.get(request.user.tid, request.params.id)
    if (row === null) throw new errors.NotFound('Command')
    return toCommandView(row)
  })

  app.post('/api/commands/:id/cancel', {
    onRequest: operators,
    config: { audit: false },
    schema: { tags: ['commands'], ...secured, params: IdParams, response: { 200: Command, 404: ErrorBody, 409: ErrorBody } }
  }, async (request) => toCommandView(await commands.cancel(request.user.tid, request.params.id, requesterOf(request))))

  app.get('/api/eim', {
    schema: { tags: ['commands'], ...secured, response: { 200: Type.Object({ eimId: Type.String(), publicKey: Type.String(), algorithm: Type.String() }) } }
  }, async () => ({ eimId: app.eim.eimId, publicKey: app.eim.publicKeyPem, algorithm: 'ECDSA P-256 SHA-256' }))

  app.get('/api/activation-codes/qr', {
    schema: {
      tags: ['commands'],
      ...secured,
      querystring: Type.Object({ code: Text(512, { minLength: 1 }), format: Type.Optional(Type.Union([Type.Literal('png'), Type.Literal('svg')])) }, { additionalProperties: false }),
      response: { 200: Type.Unsafe<Buffer | string>({ type: 'string', description: 'image/png or image/svg+xml' }), 400: ErrorBody }
    }
  }, async (request, reply) => {
    const parsed = parseActivationCode(request.query.code)
    if (!parsed.ok) throw new errors.InvalidActivationCode(parsed.reason)
    reply.header('cache-control', 'private, max-age=300')
    if (request.query.format === 'svg') {
      return reply.type('image/svg+xml').send(await QRCode.toString(request.query.code, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }))
    }
    return reply.type('image/png').send(await QRCode.toBuffer(request.query.code, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 }))
  })
}
