import fp from 'fastify-plugin'
import { EventLog } from '../events/event-log.ts'
import { RedisStreamTickets, StreamTickets, type TicketStore } from '../events/stream-tickets.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The recent hub events in memory, with ids a stream resumes from (`Last-Event-ID`). */
    eventLog: EventLog
    /** One-use tickets that open an SSE stream (`POST /api/events/ticket`), in Redis when present. */
    streamTickets: TicketStore
    /** The open SSE streams' close functions (routes/event-routes.ts adds and removes them). */
    eventStreams: Set<() => void>
  }
}

/** The dashboard's live feed: every bus event goes to the event log; at close the open streams end
 * (`preClose`, before the HTTP server waits for its connections). */
export const eventStreamPlugin = fp(async (app) => {
  const eventLog = new EventLog()
  const unsubscribe = app.bus.subscribe((event) => eventLog.append(event))
  // Other processes' events were missed while Redis was away: every stream resyncs.
  const unsubscribeResync = app.bus.onResync(() => { eventLog.restart() })
  const streams = new Set<() => void>()
  app.decorate('eventLog', eventLog)
  const tickets: TicketStore = app.redis === null ? new StreamTickets() : new RedisStreamTickets(app.redis, app.installationId)
  app.decorate('streamTickets', tickets)
  app.decorate('eventStreams', streams)
  const endStreams = async () => { for (const end of [...streams]) end() }
  app.addHook('preClose', endStreams)
  app.addHook('onClose', async () => { await endStreams(); unsubscribe(); unsubscribeResync() })
}, { name: 'event-stream', dependencies: ['bus', 'redis', 'identity'] })
