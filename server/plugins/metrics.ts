import fp from 'fastify-plugin'
import { createMetrics, type HubMetrics } from '../metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus counters and gauges; the batcher and the broker plugins set its probes. */
    metrics: HubMetrics
  }
}

export const metricsPlugin = fp(async (app) => {
  app.decorate('metrics', createMetrics())
}, { name: 'metrics' })
