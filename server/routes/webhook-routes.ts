import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { deliveryStatuses } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { resolveWebhookTarget, WebhookUrlError } from '../webhooks/url-policy.ts'
import { WEBHOOK_EVENT_TYPES } from '../webhooks/webhook-outbox.ts'
import type { DeliveryWithAttempts, PublicWebhook } from '../webhooks/webhook-store.ts'
import { Cursor, ErrorBody, Limit, nullable, secured, Text, UuidParams } from './schemas.ts'

/** Most webhooks a tenant may have. */
const MAX_WEBHOOKS = 100

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))
const Url = Text(2048, { minLength: 1, description: 'http:// or https:// URL the deliveries are POSTed to' })
const Events = Type.Array(literals(WEBHOOK_EVENT_TYPES), { minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length * 2 })

const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})

const Delivery = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: nullable(Type.String({ format: 'date-time' })),
  lastStatus: nullable(Type.Integer()),
  lastError: nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: nullable(Type.String({ format: 'date-time' })),
  attemptLog: Type.Array(Type.Object({
    attempt: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    status: nullable(Type.Integer()),
    error: nullable(Type.String()),
    durationMs: Type.Integer(),
    response: nullable(Type.String())
  }))
})

const view = (w: PublicWebhook) => ({ id: w.id, url: w.url, events: w.events, enabled: w.enabled, createdAt: w.createdAt.toISOString(), updatedAt: w.updatedAt.toISOString() })

const deliveryView = (d: DeliveryWithAttempts) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: d.createdAt.toISOString(),
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  attemptLog: d.attemptLog.map((a) => ({ attempt: a.attempt, at: a.at.toISOString(), status: a.status, error: a.error, durationMs: a.durationMs, response: a.response }))
})

/** Webhooks (admins only: they send the tenant's events elsewhere) and their delivery log. */
export const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { webhookStore: store, audit } = app
  const allowPrivate = app.config.webhookAllowPrivate
  app.addHook('onRequest', app.requireRole('admin'))

  const checkUrl = async (url: string) => {
    try {
      await resolveWebhookTarget(url, allowPrivate)
    } catch (err) {
      if (err instanceof WebhookUrlError) throw new errors.WebhookUrl(err.message)
      throw err
    }
  }

  app.get('/api/webhooks', {
    schema: { tags: ['webhooks'], ...secured, response: { 200: Type.Object({ items: Type.Array(Webhook) }) } }
  }, async (request) => ({ items: (await store.list(request.user.tid)).map(view) }))

  app.post('/api/webhooks', {
    // Audited here without the secret (the generic entry would say nothing of the URL).
    config: { audit: false },
    schema: {
      tags: ['webhooks'],
      ...secured,
      body: Type.Object({ url: Url, events: Events, enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 201: Type.Object({ webhook: Webhook, secret: Type.String({ description: 'The HMAC-SHA256 signing key, shown once' }) }), 400: ErrorBody, 409: ErrorBody }
    }
  }, async (request, reply) => {
    await checkUrl(request.body.url)
    if (await store.count(request.user.tid) >= MAX_WEBHOOKS) throw new errors.Conflict(`A tenant may have at most ${MAX_WEBHOOKS} webhooks`)
    const { webhook, secret } = await store.create(request.user.tid, request.body)
    await audit.append({ tenantId: request.user.tid, actorType: request.user.kind === 'api-key' ? 'api-key' : 'user', actorId: request.user.sub, action: 'webhook.create', target: webhook.id, detail: { url: webhook.url, events: webhook.events }, ip: request.ip })
    reply.code(201)
    return { webhook: view(webhook), secret }
  })

  app.get('/api/webhooks/:id', {
    schema: { tags: ['webhooks'], ...secured, params: UuidParams, response: { 200: Webhook, 404: ErrorBody } }
  }, async (request) => {
    const webhook = await store.get(request.user.tid, request.params.id)
    if (webhook === null) throw new errors.NotFound('Webhook')
    return view(webhook)
  })

  app.patch('/api/webhooks/:id', {
    schema: {
      tags: ['webhooks'],
      ...secured,
      params: UuidParams,
      body: Type.Partial(Type.Object({ url: Url, events: Events, enabled: Type.Boolean() }), { additionalProperties: false, minProperties: 1 }),
      response: { 200: Webhook, 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    if (await store.get(request.user.tid, request.params.id) === null) throw new errors.NotFound('Webhook')
    if (request.body.url !== undefined) await checkUrl(request.body.url)
    const webhook = await store.update(request.user.tid, request.params.id, request.body)
    if (webhook === null) throw new errors.NotFound('Webhook')
    return view(webhook)
  })

  app.delete('/api/webhooks/:id', {
    schema: { tags: ['webhooks'], ...secured, params: UuidParams, response: { 204: Type.Null(), 404: ErrorBody } }
  }, async (request, reply) => {
    if (!await store.delete(request.user.tid, request.params.id)) throw new errors.NotFound('Webhook')
    reply.code(204)
    return null
  })

  app.get('/api/webhooks/:id/deliveries', {
    schema: {
      tags: ['webhooks'],
      ...secured,
      params: UuidParams,
      querystring: Type.Object({ status: Type.Optional(literals(deliveryStatuses)), limit: Limit(500, 50), cursor: Type.Optional(Cursor) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(Delivery), nextCursor: nullable(Type.String()) }), 400: ErrorBody, 404: ErrorBody }
    }
  }, async (request) => {
    if (await store.get(request.user.tid, request.params.id) === null) throw new errors.NotFound('Webhook')
    const page = await store.deliveries(request.user.tid, request.params.id, request.query)
    return { items: page.items.map(deliveryView), nextCursor: page.nextCursor }
  })
}
