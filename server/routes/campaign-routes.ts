import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { COMMAND_OPS, ICCID_PATTERN } from '../../protocol/commands.ts'
import type { Progress } from '../commands/campaign-service.ts'
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS } from '../commands/command-transitions.ts'
import { commandStatuses, type CampaignRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { Command, requesterOf, toCommandView } from './command-routes.ts'
import { Cursor, ErrorBody, Id, Limit, nullable, secured, Text, UuidParams } from './schemas.ts'

const count = Type.Integer()

const Filter = Type.Object({
  tags: Type.Optional(Type.Array(Text(64, { minLength: 1 }), { minItems: 1, maxItems: 32 })),
  operator: Type.Optional(Text(64, { minLength: 1 })),
  site: Type.Optional(Text(64, { minLength: 1, description: 'devices at this field site (the device\'s `site`)' })),
  model: Type.Optional(Type.String({ pattern: '^[0-9]{8}$', description: 'IMEI Type Allocation Code (8 digits)' })),
  deviceIds: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 100_000 }))
}, { additionalProperties: false, minProperties: 1 })

const Campaign = Type.Object({
  id: Type.String(),
  name: Type.String(),
  op: Type.String(),
  iccid: nullable(Type.String()),
  activationCode: nullable(Type.String()),
  filter: Type.Object({}, { additionalProperties: true }),
  ratePerMinute: count,
  concurrency: count,
  failureThreshold: count,
  ttlSeconds: count,
  status: Type.String(),
  pausedReason: nullable(Type.String()),
  requestedBy: Type.String(),
  total: count,
  progress: Type.Object({ pending: count, queued: count, sent: count, succeeded: count, failed: count, expired: count, cancelled: count }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  finishedAt: nullable(Type.String({ format: 'date-time' }))
})

const CampaignCreate = Type.Object({
  name: Text(200, { minLength: 1 }),
  op: Type.Union(COMMAND_OPS.map((op) => Type.Literal(op))),
  iccid: Type.Optional(Type.String({ pattern: ICCID_PATTERN })),
  activationCode: Type.Optional(Text(512, { minLength: 1 })),
  filter: Filter,
  ratePerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, default: 60 })),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 10 })),
  failureThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10 })),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS, default: DEFAULT_TTL_SECONDS }))
}, { additionalProperties: false })

function toView ({ campaign: c, progress }: { campaign: CampaignRow, progress: Progress }) {
  return {
    id: c.id,
    name: c.name,
    op: c.op,
    iccid: c.iccid,
    activationCode: c.activationCode,
    filter: c.filter as Record<string, unknown>,
    ratePerMinute: c.ratePerMinute,
    concurrency: c.concurrency,
    failureThreshold: c.failureThreshold,
    ttlSeconds: c.ttlSeconds,
    status: c.status,
    pausedReason: c.pausedReason,
    requestedBy: c.requestedBy,
    total: c.total,
    progress,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    finishedAt: c.finishedAt?.toISOString() ?? null
  }
}

/** Campaigns under /api/campaigns: operators and admins create and steer them, every role reads. */
export const campaignRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { campaigns, audit } = app
  const operators = app.requireRole('admin', 'operator')
  // Campaign ids are UUIDs (a uuid column): anything else is a 400.
  const idParams = UuidParams

  app.post('/api/campaigns', {
    onRequest: operators,
    config: { audit: false },
    schema: { tags: ['campaigns'], ...secured, body: CampaignCreate, response: { 201: Campaign, 400: ErrorBody } }
  }, async (request, reply) => {
    const b = request.body
    const requester = requesterOf(request)
    const created = await campaigns.create({
      tenantId: request.user.tid,
      name: b.name,
      op: b.op,
      iccid: b.iccid ?? null,
      activationCode: b.activationCode ?? null,
      filter: b.filter,
      ratePerMinute: b.ratePerMinute ?? 60,
      concurrency: b.concurrency ?? 10,
      failureThreshold: b.failureThreshold ?? 10,
      ttlSeconds: b.ttlSeconds ?? DEFAULT_TTL_SECONDS,
      requester
    })
    await audit.append({ tenantId: request.user.tid, actorType: requester.type === 'api-key' ? 'api-key' : 'user', actorId: request.user.sub, action: 'campaign.create', target: created.campaign.id, outcome: 'success', detail: { op: b.op, filter: b.filter, total: created.campaign.total }, ip: request.ip })
    reply.code(201)
    return toView(created)
  })

  app.get('/api/campaigns', {
    schema: { tags: ['campaigns'], ...secured, querystring: Type.Object({ limit: Limit(200, 50), cursor: Type.Optional(Cursor) }, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(Campaign), nextCursor: nullable(Type.String()) }) } }
  }, async (request) => {
    const page = await campaigns.list(request.user.tid, request.query.limit, request.query.cursor)
    return { items: page.items.map(toView), nextCursor: page.nextCursor }
  })

  app.get('/api/campaigns/:id', {
    schema: { tags: ['campaigns'], ...secured, params: idParams, response: { 200: Campaign, 404: ErrorBody } }
  }, async (request) => {
    const found = await campaigns.get(request.user.tid, request.params.id)
    if (found === null) throw new errors.NotFound('Campaign')
    return toView(found)
  })

  app.get('/api/campaigns/:id/commands', {
    schema: {
      tags: ['campaigns'],
      ...secured,
      params: idParams,
      querystring: Type.Object({ limit: Limit(500, 50), cursor: Type.Optional(Cursor), status: Type.Optional(Type.Union(commandStatuses.map((s) => Type.Literal(s)))) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Command), nextCursor: nullable(Type.String()) }), 404: ErrorBody }
    }
  }, async (request) => {
    if (await campaigns.get(request.user.tid, request.params.id) === null) throw new errors.NotFound('Campaign')
    const page = await app.commands.list(request.user.tid, { campaignId: request.params.id }, request.query.limit, request.query.cursor, request.query.status)
    return { items: page.items.map(toCommandView), nextCursor: page.nextCursor }
  })

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(`/api/campaigns/:id/${action}`, {
      onRequest: operators,
      config: { audit: false },
      schema: { tags: ['campaigns'], ...secured, params: idParams, response: { 200: Campaign, 404: ErrorBody, 409: ErrorBody } }
    }, async (request) => {
      const { tid } = request.user
      const id = request.params.id
      const result = action === 'pause' ? await campaigns.pause(tid, id) : action === 'resume' ? await campaigns.resume(tid, id) : await campaigns.cancel(tid, id, requesterOf(request))
      await audit.append({ tenantId: tid, actorType: request.user.kind === 'api-key' ? 'api-key' : 'user', actorId: request.user.sub, action: `campaign.${action}`, target: id, outcome: 'success', detail: { progress: result.progress }, ip: request.ip })
      return toView(result)
    })
  }
}
