import fp from 'fastify-plugin'
import { Presence } from '../bus/presence.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Who is connected and when each device was last heard from (shared through Redis when present). */
    presence: Presence
  }
}

/** How often in-memory last-seen times are written to the devices table. */
const LAST_SEEN_FLUSH_MS = 5000

/** Presence, and the writer of its last-seen times: every 5 s, and once more at close. The batcher
 * closes before this (it is registered later), so the last write follows the last ingested message. */
export const presencePlugin = fp(async (app) => {
  const presence = new Presence(app.redis, app.redisError)
  app.decorate('presence', presence)
  const flushLastSeen = () => app.devices.recordLastSeen(presence.drainLastSeen()).catch((err: Error) => app.log.warn({ err: err.message }, 'last-seen flush failed'))
  const timer = setInterval(flushLastSeen, LAST_SEEN_FLUSH_MS).unref()
  // Redis is back after an outage: this process's devices are online in it again.
  const unsubscribe = app.bus.onResync(() => { presence.reassert().catch(app.redisError) })
  app.addHook('onClose', async () => {
    unsubscribe()
    clearInterval(timer)
    await flushLastSeen()
    await presence.close()
  })
}, { name: 'presence', dependencies: ['redis', 'bus', 'repositories'] })
