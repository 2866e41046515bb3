import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isSameOrigin } from '../auth/same-origin.ts'
import { errors } from '../errors.ts'
import type { LoggedEvent } from '../events/event-log.ts'
import { EventTicket, Text } from './schemas.ts'

const HEARTBEAT_MS = 15_000
const REVOCATION_CHECK_MS = 2_000
/** A stream whose unsent bytes pass this is closed; the browser reconnects and resumes. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/** The dashboard's live feed: `POST /api/events/ticket` (Bearer) then `GET /api/events?ticket=…`.
 * Every event carries an id; `Last-Event-ID` (or `lastEventId=`) resumes, or a `resync` event tells
 * the client to reload when the gap is no longer in memory. */
export const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { eventLog: log, streamTickets: tickets, metrics, eventStreams: streams } = app
  const { revocations } = app.identity
  app.post('/api/events/ticket', {
    // Every dashboard (re)connect takes a ticket: not a security-relevant action, so not audited one by
    // one (a refusal still is, by the audit hook).
    config: { audit: false },
    schema: { tags: ['events'], security: [{ bearer: [] }], response: { 200: EventTicket } }
  }, async (request) => {
    if (!isSameOrigin(request)) throw new errors.CrossOrigin()
    let ticket: string
    try {
      ticket = await tickets.issue({ userId: request.user.sub, tenantId: request.user.tid, role: request.user.role, sessionId: request.user.sid })
    } catch (err) {
      request.log.error({ err }, 'stream tickets unavailable')
      throw new errors.Unavailable()
    }
    return { ticket, expiresIn: Math.floor(tickets.ttlMs / 1000) }
  })

  app.get('/api/events', {
    schema: {
      tags: ['events'],
      querystring: Type.Object({ ticket: Text(100), lastEventId: Type.Optional(Text(100)) })
    }
  }, async (request, reply) => {
    // An EventSource from another site's page is refused even with a valid ticket (it is burnt too).
    let holder
    try {
      holder = await tickets.redeem(request.query.ticket)
    } catch (err) {
      request.log.error({ err }, 'stream tickets unavailable')
      throw new errors.Unavailable()
    }
    if (!isSameOrigin(request)) throw new errors.CrossOrigin()
    if (holder === null) throw new errors.InvalidTicket()
    // The credential may have been revoked between the ticket and now.
    let revokedAlready: boolean
    try {
      revokedAlready = await revocations.anyRevoked([holder.sessionId])
    } catch (err) {
      request.log.error({ err }, 'revocation list unavailable')
      throw new errors.Unavailable()
    }
    if (revokedAlready) throw new errors.InvalidTicket()
    const raw = reply.raw
    reply.hijack()
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    raw.socket?.setNoDelay(true)
    const send = (entry: LoggedEvent): void => {
      if (entry.event.tenantId !== holder.tenantId) return
      raw.write(`id: ${log.formatId(entry.id)}\nevent: ${entry.event.type}\ndata: ${JSON.stringify(entry.event.data)}\n\n`)
      if (raw.writableLength > MAX_BUFFERED_BYTES) close()
    }
    const resync = (): void => { raw.write(`id: ${log.formatId(log.lastId)}\nevent: resync\ndata: {}\n\n`) }
    raw.write('retry: 2000\n\n')
    const lastEventId = request.headers['last-event-id'] ?? request.query.lastEventId
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      const missed = log.since(lastEventId)
      if (missed === null) resync()
      else for (const entry of missed) send(entry)
    }
    const unsubscribeEvents = log.subscribe(send)
    const unsubscribeRestart = log.onRestart(resync)
    const unsubscribe = (): void => { unsubscribeEvents(); unsubscribeRestart() }
    // A named event, not an SSE comment: EventSource hides comments from the page, and the dashboard
    // needs to hear the hub to tell a live stream from a silent one (web/src/data/event-stream.ts).
    const heartbeat = setInterval(() => raw.write('event: keep-alive\ndata: {}\n\n'), HEARTBEAT_MS)
    // Logout, disabling the user or changing its role revokes the session, and revoking an API key puts
    // the key on the same list (in Redis when present, so a revocation on any hub process counts): the
    // stream ends within REVOCATION_CHECK_MS (and when the list cannot be read, fail closed).
    const revocationCheck = setInterval(() => {
      revocations.anyRevoked([holder.sessionId]).then((revoked) => { if (revoked) close() }, () => close())
    }, REVOCATION_CHECK_MS)
    metrics.sseClients.inc()
    let closed = false
    function close (): void {
      if (closed) return
      closed = true
      unsubscribe()
      clearInterval(heartbeat)
      clearInterval(revocationCheck)
      streams.delete(close)
      metrics.sseClients.dec()
      raw.end()
    }
    streams.add(close)
    raw.on('close', close)
  })
}
