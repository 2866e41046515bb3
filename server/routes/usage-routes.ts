import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { planPeriods, type PlanRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { ErrorBody, IdParams, nullable, parseTimestamp, secured, Text, Timestamp } from './schemas.ts'

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))
const Bytes = Type.Integer({ minimum: 0 })
const Plan = Type.Object({ id: Type.String(), name: Type.String(), quotaBytes: Bytes, period: Type.String(), createdAt: Type.String({ format: 'date-time' }) })
const planView = (p: PlanRow) => ({ id: p.id, name: p.name, quotaBytes: p.quotaBytes, period: p.period, createdAt: p.createdAt.toISOString() })

const DAY_MS = 24 * 3600_000

/** Data plans and usage, scoped to the caller's tenant. Usage is read from the daily and monthly rows the
 * ingest keeps (server/usage/usage-counter.ts), never from raw telemetry. */
export const usageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { plans, devices } = app

  app.get('/api/devices/:id/usage', {
    schema: {
      tags: ['usage'],
      ...secured,
      params: IdParams,
      querystring: Type.Object({
        period: Type.Optional(literals(['day', 'month'] as const)),
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp)
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          period: Type.String(),
          items: Type.Array(Type.Object({ periodStart: Type.String({ format: 'date-time' }), bytesUp: Bytes, bytesDown: Bytes })),
          plan: nullable(Type.Object({ id: Type.String(), quotaBytes: Bytes, period: Type.String(), usedBytes: Bytes }))
        }),
        400: ErrorBody,
        404: ErrorBody
      }
    }
  }, async (request) => {
    const { tid } = request.user
    if (await devices.get(tid, request.params.id) === null) throw new errors.NotFound('Device')
    const period = request.query.period ?? 'day'
    const to = request.query.to === undefined ? new Date() : parseTimestamp(request.query.to) as Date
    const from = request.query.from === undefined ? new Date(to.getTime() - (period === 'day' ? 30 : 365) * DAY_MS) : parseTimestamp(request.query.from) as Date
    if (from.getTime() > to.getTime()) throw new errors.BadRequest('from is after to')
    const [items, [use]] = await Promise.all([plans.deviceUsage(request.params.id, period, from, to), plans.currentUse([request.params.id])])
    return { period, items, plan: use === undefined ? null : { id: use.planId, quotaBytes: use.quotaBytes, period: use.period, usedBytes: use.usedBytes } }
  })

  app.get('/api/plans', {
    schema: { tags: ['usage'], ...secured, response: { 200: Type.Object({ items: Type.Array(Plan) }) } }
  }, async (request) => ({ items: (await plans.list(request.user.tid)).map(planView) }))

  app.post('/api/plans', {
    onRequest: app.requireRole('admin', 'operator'),
    schema: {
      tags: ['usage'],
      ...secured,
      body: Type.Object({
        name: Text(200, { minLength: 1 }),
        quotaBytes: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        period: literals(planPeriods)
      }, { additionalProperties: false }),
      response: { 201: Plan, 409: ErrorBody }
    }
  }, async (request, reply) => {
    const plan = await plans.create(request.user.tid, request.body)
    if (plan === null) throw new errors.Conflict('A plan with this name already exists')
    reply.code(201)
    return planView(plan)
  })

  app.get('/api/usage/summary', {
    schema: {
      tags: ['usage'],
      ...secured,
      response: {
        200: Type.Object({
          plans: Type.Array(Type.Object({ planId: Type.String(), name: Type.String(), period: Type.String(), quotaBytes: Bytes, devices: Type.Integer(), usedBytes: Bytes, devicesOverQuota: Type.Integer() })),
          tenant: Type.Object({ devices: Type.Integer(), devicesWithPlan: Type.Integer(), monthUsedBytes: Bytes, devicesOverQuota: Type.Integer() })
        })
      }
    }
  }, async (request) => await plans.summary(request.user.tid))
}
