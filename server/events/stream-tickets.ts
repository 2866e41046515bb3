import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

/** Who opened the stream; `sessionId` (the session, or the API key's id) is checked against the
 * revocation list while it is open. */
export interface TicketHolder { userId: string, tenantId: string, role: string, sessionId: string }

/** Single-use tickets that let an EventSource (which cannot send headers) open the SSE stream: in
 * memory for one process, in Redis when several share it (a ticket taken on one process opens the
 * stream on any other, as a load balancer may send it). A Redis failure rejects (the route answers 503). */
export interface TicketStore {
  readonly ttlMs: number
  issue (holder: TicketHolder): string | Promise<string>
  /** Returns the ticket's holder and burns it; null when unknown, used or expired. */
  redeem (ticket: string): TicketHolder | null | Promise<TicketHolder | null>
}

const newTicket = (): string => randomBytes(24).toString('base64url')

/** One process. */
export class StreamTickets implements TicketStore {
  private readonly tickets = new Map<string, { holder: TicketHolder, expires: number }>()

  constructor (readonly ttlMs = 30_000) {}

  issue (holder: TicketHolder): string {
    this.sweep()
    const ticket = newTicket()
    this.tickets.set(ticket, { holder, expires: Date.now() + this.ttlMs })
    return ticket
  }

  redeem (ticket: string): TicketHolder | null {
    const entry = this.tickets.get(ticket)
    this.tickets.delete(ticket)
    return entry !== undefined && entry.expires > Date.now() ? entry.holder : null
  }

  private sweep (): void {
    const now = Date.now()
    for (const [ticket, entry] of this.tickets) if (entry.expires <= now) this.tickets.delete(ticket)
  }
}

/** Several processes: each ticket a Redis key that expires with it, taken once with GETDEL. */
export class RedisStreamTickets implements TicketStore {
  private readonly key: (ticket: string) => string

  /** `namespace` separates hub deployments (databases) that share one Redis. */
  constructor (private readonly redis: Redis, namespace: string, readonly ttlMs = 30_000) {
    this.key = (ticket) => `euicc-hub:${namespace}:ticket:${ticket}`
  }

  async issue (holder: TicketHolder): Promise<string> {
    const ticket = newTicket()
    await this.redis.set(this.key(ticket), JSON.stringify(holder), 'PX', this.ttlMs)
    return ticket
  }

  async redeem (ticket: string): Promise<TicketHolder | null> {
    const value = await this.redis.getdel(this.key(ticket))
    return value === null ? null : JSON.parse(value) as TicketHolder
  }
}
