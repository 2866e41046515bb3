import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { connectRedis } from '../bus/redis-connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared command connection when REDIS_URL is set (presence, identity counters, rate limits), or null. */
    redis: Redis | null
    /** Logs a Redis failure of a background write (never fatal: Redis is optional state). */
    redisError: (err: Error) => void
  }
}

/** The Redis command connection (REDIS_URL), or null without one. The bus opens its own subscriber. */
export const redisPlugin = fp(async (app) => {
  const redis = app.config.redisUrl === null ? null : await connectRedis(app.config.redisUrl, 'euicc-hub')
  app.decorate('redis', redis)
  app.decorate('redisError', (err: Error) => { app.log.warn({ err: err.message }, 'redis error') })
  app.addHook('onClose', async () => { redis?.disconnect() })
}, { name: 'redis', dependencies: ['config'] })
