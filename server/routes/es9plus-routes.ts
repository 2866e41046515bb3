import rateLimit from '@fastify/rate-limit'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.ts'
import { ErrorBody } from './schemas.ts'

const Es9Body = Type.Object({ pendingNotification: Type.String({ maxLength: 90_000 }) })

/** Posts per source address per window on the unauthenticated ES9+ endpoint. An LPA posts one
 * notification per profile operation, and a site's LPAs behind one NAT address rarely post more than a
 * few a minute; 60 a minute leaves room for a backlog being flushed and still bounds a flood. */
export const ES9PLUS_RATE_LIMIT_DEFAULT = { max: 60, timeWindowMs: 60_000 }

export interface Es9plusRouteOptions {
  /** Posts per source address and window (default ES9PLUS_RATE_LIMIT_DEFAULT). */
  rateLimit?: { max: number, timeWindowMs: number }
}

/** ES9+ handleNotification (SGP.22 JSON binding), the endpoint an LPA posts a notification to. */
export const es9plusRoutes: FastifyPluginAsyncTypebox<Es9plusRouteOptions> = async (app, opts) => {
  const limit = opts.rateLimit ?? ES9PLUS_RATE_LIMIT_DEFAULT
  // Shared counters when the hub has Redis (several hub processes then enforce one limit), namespaced by
  // the installation id so hubs on different databases sharing one Redis never mix.
  const { redis, installationId, notifications } = app
  // Registered in this plugin's own scope with `global: false`: only the route below is limited. The key
  // is the source address (request.ip: the socket's, or the forwarded one from a trusted proxy).
  await app.register(rateLimit, {
    global: false,
    ...(redis === null ? {} : { redis, nameSpace: `euicc-hub:${installationId}:es9plus-rate:` }),
    // Redis down: the limit is skipped rather than refusing every LPA (what is posted still goes through
    // the inbox, and verification is what decides).
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new errors.RateLimited(context.after)
  })

  // LPAs give up quickly, so the answer is 204 as soon as the raw
  // notification is committed — also for notifications that will be rejected — and the verification
  // runs after the answer. A crash in between leaves it in the inbox, and the next start processes it.
  app.post('/gsma/rsp2/es9plus/handleNotification', {
    bodyLimit: 128 * 1024,
    config: { rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs } },
    schema: { tags: ['es9plus'], body: Es9Body, response: { 204: Type.Null(), 400: ErrorBody, 429: ErrorBody } }
  }, async (request, reply) => {
    const der = Buffer.from(request.body.pendingNotification, 'base64')
    await notifications.receive(der)
    reply.code(204).header('x-admin-protocol', 'gsma/rsp/v2.5.0')
    return null
  })
}
