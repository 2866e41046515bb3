import type { FastifyPluginAsync } from 'fastify'
import { ping, type Database } from '../db/database.ts'
import type { HubMetrics } from '../metrics.ts'

/** Liveness, readiness (database reachable, broker listening) and Prometheus metrics. */
export const healthRoutes: FastifyPluginAsync<{ database: Database, metrics: HubMetrics, brokerReady: () => boolean }> = async (app, { database, metrics, brokerReady }) => {
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

  app.get('/metrics', { schema: { tags: ['operations'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return await metrics.registry.metrics()
  })
}
