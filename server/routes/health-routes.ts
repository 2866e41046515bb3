import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { ping } from '../db/database.ts'
import { errors } from '../errors.ts'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** Whether `header` is `Bearer <token>`, compared in constant time (both sides hashed to one length). */
export function bearerMatches (header: string | undefined, token: string): boolean {
  const presented = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length) : ''
  return timingSafeEqual(digest(presented), digest(token)) && presented !== ''
}

/** Liveness, readiness (database reachable, broker listening) and Prometheus metrics. With
 * `metricsToken` (HUB_METRICS_TOKEN), `/metrics` needs `Authorization: Bearer <token>`; without, it is
 * open (keep the port private then). */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  const { database, metrics } = app
  const metricsToken = app.config.metricsToken
  const brokerReady = () => !app.broker.aedes.closed
  app.get('/healthz', { schema: { tags: ['operations'] } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { tags: ['operations'] } }, async (_request, reply) => {
    const checks = { database: 'ok', broker: brokerReady() ? 'ok' : 'down' }
    try {
      await ping(database)
    } catch {
      checks.database = 'down'
    }
    const ready = checks.database === 'ok' && checks.broker === 'ok'
    reply.code(ready ? 200 : 503)
    return { status: ready ? 'ready' : 'unavailable', checks }
  })

  app.get('/metrics', { schema: { tags: ['operations'] } }, async (request, reply) => {
    if (metricsToken !== null && !bearerMatches(request.headers.authorization, metricsToken)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"')
      throw new errors.Unauthorized()
    }
    reply.type(metrics.registry.contentType)
    return await metrics.registry.metrics()
  })
}
