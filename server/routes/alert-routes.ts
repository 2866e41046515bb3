import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ALERT_METRICS, MAX_FOR_SECONDS, normalizeRule, type AlertRuleInput } from '../alerts/alert-rules.ts'
import { alertEventData } from '../alerts/alert-store.ts'
import { alertKinds, alertOps, alertSeverities, alertStates, type AlertRuleRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { Cursor, ErrorBody, Id, Limit, nullable, secured, Text, Uuid, UuidParams } from './schemas.ts'

/** Most rules a tenant may have. */
const MAX_RULES = 1000

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))
const FilterText = Text(64, { minLength: 1 })
const Filter = Type.Object({ tag: Type.Optional(FilterText), operator: Type.Optional(FilterText), site: Type.Optional(FilterText) }, { additionalProperties: false })
const Threshold = Type.Number({ minimum: -1e15, maximum: 1e15 })
const ruleFields = {
  name: Text(200, { minLength: 1 }),
  kind: literals(alertKinds),
  metric: Type.Optional(nullable(literals(ALERT_METRICS))),
  op: Type.Optional(nullable(literals(alertOps))),
  threshold: Type.Optional(nullable(Threshold)),
  forSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_FOR_SECONDS })),
  severity: literals(alertSeverities),
  filter: Type.Optional(Filter),
  enabled: Type.Optional(Type.Boolean())
}
const RuleCreate = Type.Object(ruleFields, { additionalProperties: false })
const RulePatch = Type.Partial(Type.Object(ruleFields), { additionalProperties: false, minProperties: 1 })

const AlertRule = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  metric: nullable(Type.String()),
  op: nullable(Type.String()),
  threshold: nullable(Type.Number()),
  forSeconds: Type.Integer(),
  severity: Type.String(),
  filter: Type.Object({ tag: Type.Optional(Type.String()), operator: Type.Optional(Type.String()), site: Type.Optional(Type.String()) }),
  enabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})

const Alert = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  ruleName: Type.String(),
  kind: Type.String(),
  severity: Type.String(),
  deviceId: Type.String(),
  state: Type.String(),
  value: nullable(Type.Number()),
  message: Type.String(),
  raisedAt: Type.String({ format: 'date-time' }),
  acknowledgedAt: nullable(Type.String({ format: 'date-time' })),
  acknowledgedBy: nullable(Type.String()),
  resolvedAt: nullable(Type.String({ format: 'date-time' })),
  resolution: nullable(Type.String())
})

function ruleView (r: AlertRuleRow) {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    metric: r.metric,
    op: r.op,
    threshold: r.threshold,
    forSeconds: r.forSeconds,
    severity: r.severity,
    filter: r.filter,
    enabled: r.enabled,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString()
  }
}

function normalized (input: AlertRuleInput): Required<AlertRuleInput> {
  const result = normalizeRule(input)
  if (!result.ok) throw new errors.Validation(result.message)
  return result.rule
}

/** Alert rules (admins and operators write them) and alerts (technicians may acknowledge too), scoped to
 * the caller's tenant; another tenant's rule or alert answers 404. Evaluation is told of each rule
 * change, so this process applies it at once (the others at their next sweep). */
export const alertRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { alertStore: store, alertEvaluator: evaluator, audit } = app
  const ruleWriters = app.requireRole('admin', 'operator')
  const acknowledgers = app.requireRole('admin', 'operator', 'technician')

  app.get('/api/alert-rules', {
    schema: { tags: ['alerts'], ...secured, response: { 200: Type.Object({ items: Type.Array(AlertRule) }) } }
  }, async (request) => ({ items: (await store.listRules(request.user.tid)).map(ruleView) }))

  app.post('/api/alert-rules', {
    onRequest: ruleWriters,
    schema: { tags: ['alerts'], ...secured, body: RuleCreate, response: { 201: AlertRule, 400: ErrorBody, 409: ErrorBody } }
  }, async (request, reply) => {
    const rule = normalized(request.body)
    if (await store.countRules(request.user.tid) >= MAX_RULES) throw new errors.Conflict(`A tenant may have at most ${MAX_RULES} alert rules`)
    const row = await store.createRule(request.user.tid, rule)
    await evaluator.rulesChanged()
    reply.code(201)
    return ruleView(row)
  })

  app.patch('/api/alert-rules/:id', {
    onRequest: ruleWriters,
    schema: { tags: ['alerts'], ...secured, params: UuidParams, body: RulePatch, response: { 200: AlertRule, 400: ErrorBody, 404: ErrorBody } }
  }, async (request) => {
    const existing = await store.getRule(request.user.tid, request.params.id)
    if (existing === null) throw new errors.NotFound('Alert rule')
    // The patch over the stored rule, checked as a whole (a kind change must bring its fields).
    const rule = normalized({ ...existing, ...request.body, filter: request.body.filter ?? existing.filter })
    const row = await store.updateRule(request.user.tid, request.params.id, rule)
    if (row === null) throw new errors.NotFound('Alert rule')
    await evaluator.rulesChanged()
    return ruleView(row)
  })

  app.delete('/api/alert-rules/:id', {
    onRequest: ruleWriters,
    schema: { tags: ['alerts'], ...secured, params: UuidParams, response: { 204: Type.Null(), 404: ErrorBody } }
  }, async (request, reply) => {
    if (!await store.deleteRule(request.user.tid, request.params.id)) throw new errors.NotFound('Alert rule')
    await evaluator.rulesChanged()
    reply.code(204)
    return null
  })

  app.get('/api/alerts', {
    schema: {
      tags: ['alerts'],
      ...secured,
      querystring: Type.Object({
        state: Type.Optional(literals(alertStates)),
        severity: Type.Optional(literals(alertSeverities)),
        deviceId: Type.Optional(Id),
        ruleId: Type.Optional(Uuid),
        limit: Limit(1000, 100),
        cursor: Type.Optional(Cursor)
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Alert), nextCursor: nullable(Type.String()) }), 400: ErrorBody }
    }
  }, async (request) => {
    const page = await store.list(request.user.tid, request.query)
    return { items: page.items.map(alertEventData), nextCursor: page.nextCursor }
  })

  app.get('/api/alerts/:id', {
    schema: { tags: ['alerts'], ...secured, params: UuidParams, response: { 200: Alert, 404: ErrorBody } }
  }, async (request) => {
    const row = await store.get(request.user.tid, request.params.id)
    if (row === null) throw new errors.NotFound('Alert')
    return alertEventData(row)
  })

  app.post('/api/alerts/:id/acknowledge', {
    onRequest: acknowledgers,
    // Audited here with the alert's rule, device and severity (refusals still by the generic hook).
    config: { audit: false },
    schema: { tags: ['alerts'], ...secured, params: UuidParams, response: { 200: Alert, 404: ErrorBody, 409: ErrorBody } }
  }, async (request) => {
    const by = `${request.user.kind === 'api-key' ? 'api-key' : 'user'}:${request.user.sub}`
    const outcome = await store.acknowledge(request.user.tid, request.params.id, by)
    if (!outcome.ok && outcome.reason === 'not-found') throw new errors.NotFound('Alert')
    const actor = { tenantId: request.user.tid, actorType: request.user.kind === 'api-key' ? 'api-key' as const : 'user' as const, actorId: request.user.sub, action: 'alert.acknowledge', target: request.params.id, ip: request.ip }
    if (!outcome.ok) {
      await audit.append({ ...actor, outcome: 'failure', detail: { state: outcome.state } })
      throw new errors.AlertState(`The alert is ${outcome.state as string}, not open`)
    }
    const alert = outcome.alert
    await audit.append({ ...actor, outcome: 'success', detail: { ruleId: alert.ruleId, deviceId: alert.deviceId, severity: alert.severity, kind: alert.kind } })
    return alertEventData(alert)
  })
}
