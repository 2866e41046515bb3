import { randomBytes } from 'node:crypto'

/** Who opened the stream; `sessionId` (the session, or the API key's id) is checked against the
 * revocation list while it is open. */
export interface TicketHolder { userId: string, tenantId: string, role: string, sessionId: string }

/** Single-use tickets that let an EventSource (which cannot send headers) open the SSE stream. */
export class StreamTickets {
  private readonly tickets = new Map<string, { holder: TicketHolder, expires: number }>()

  constructor (readonly ttlMs = 30_000) {}

  issue (holder: TicketHolder): string {
    this.sweep()
    const ticket = randomBytes(24).toString('base64url')
    this.tickets.set(ticket, { holder, expires: Date.now() + this.ttlMs })
    return ticket
  }

  /** Returns the ticket's holder and burns it; null when unknown, used or expired. */
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
