import fp from 'fastify-plugin'
import { LocalEventBus, RedisEventBus, type EventBus } from '../bus/event-bus.ts'
import { connectRedis } from '../bus/redis-connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Hub events (protocol/events.ts): in process, or Redis pub/sub when several processes share one. */
    bus: EventBus
  }
}

/** The event bus: in memory, or Redis pub/sub (a subscriber connection of its own) with REDIS_URL. */
export const busPlugin = fp(async (app) => {
  let bus: EventBus
  if (app.redis !== null && app.config.redisUrl !== null) {
    const subscriber = await connectRedis(app.config.redisUrl, 'euicc-hub-sub')
    app.addHook('onClose', async () => { subscriber.disconnect() })
    const redisBus = new RedisEventBus(app.redis, subscriber, app.redisError)
    await redisBus.start()
    bus = redisBus
  } else {
    bus = new LocalEventBus()
  }
  app.decorate('bus', bus)
  app.addHook('onClose', async () => { await bus.close() })
}, { name: 'bus', dependencies: ['config', 'redis'] })
