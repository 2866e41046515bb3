import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Database } from '../db/database.ts'
import { textArray } from '../db/sql-values.ts'
import type { HubMetrics } from '../metrics.ts'
import { signatureHeader } from './webhook-signing.ts'
import { resolveWebhookTarget, WebhookUrlError } from './url-policy.ts'

export interface WebhookDeliveryOptions {
  /** HUB_WEBHOOK_ALLOW_PRIVATE: deliver to loopback, private and link-local addresses too. */
  allowPrivate: boolean
  /** How often the outbox is polled for due deliveries (ms; default 1000). Rows written by this process
   * are sent at once (`kick`). */
  pollMs?: number
  /** One attempt's whole time: connect, send, answer (ms; default 10 s). */
  timeoutMs?: number
  /** Concurrent requests to one receiver (one webhook) from this process (default 4). */
  perReceiver?: number
  /** Concurrent requests from this process in all (default 64). */
  maxInFlight?: number
  /** Backoff: the delay after the first failed attempt, doubling up to `retryMaxMs` (defaults 10 s, 1 h). */
  retryBaseMs?: number
  retryMaxMs?: number
  /** A delivery is retried until an attempt fails this long after it was written (default 24 h). */
  retryWindowMs?: number
  /** How long a claim holds a row (ms; default 2 min): a process that dies mid-delivery leaves its claims
   * to expire, then the rows are sent again (at-least-once). */
  leaseMs?: number
}

interface Claimed {
  id: string
  webhookId: string
  url: string
  secret: string
  eventType: string
  body: string
  attempt: number
  createdMs: number
}

interface Outcome { status: number | null, error: string | null, response: string | null, durationMs: number }

/** The error of an attempt cut short by close(): not an answer, so not recorded (the claim is handed back). */
const SHUTDOWN = 'hub shutting down'
const RESPONSE_KEPT = 1024
const RESPONSE_READ = 64 * 1024

/** Sends the outbox's due deliveries (server/webhooks/webhook-outbox.ts), in every process. Each due row
 * is claimed by a conditional UPDATE (due, pending, its claim free or expired), so two processes never
 * send one claim; the answer is recorded with the row (delivered, or the next attempt's time with
 * exponential backoff and jitter, or `failed` past the retry window) and in the attempt log.
 *
 * A receiver gets at most `perReceiver` concurrent requests from a process, each with a `timeoutMs`
 * budget for the whole exchange; redirects are not followed (a 3xx is a failed attempt); the URL's host
 * is resolved and checked at each attempt and the connection goes to the checked address. */
export class WebhookDelivery {
  private readonly timer: NodeJS.Timeout
  private pumping = false
  private again = false
  private closed = false
  private readonly inFlight = new Map<string, Claimed>()
  private readonly perWebhook = new Map<string, number>()
  private readonly waiting = new Map<string, Claimed[]>()
  private readonly requests = new Set<http.ClientRequest>()
  private readonly agents = new Map<string, http.Agent>()
  private readonly idle: Array<() => void> = []
  private readonly o: Required<Omit<WebhookDeliveryOptions, 'allowPrivate'>> & { allowPrivate: boolean }

  constructor (private readonly database: Database, private readonly metrics: HubMetrics, private readonly logger: Logger, options: WebhookDeliveryOptions) {
    this.o = {
      pollMs: 1000,
      timeoutMs: 10_000,
      perReceiver: 4,
      maxInFlight: 64,
      retryBaseMs: 10_000,
      retryMaxMs: 3600_000,
      retryWindowMs: 24 * 3600_000,
      leaseMs: 120_000,
      ...options
    }
    this.timer = setInterval(() => this.kick(), this.o.pollMs).unref()
  }

  /** Looks for due deliveries now. */
  kick = (): void => {
    if (this.closed) return
    if (this.pumping) { this.again = true; return }
    this.pumping = true
    this.pump().catch((err: Error) => this.logger.error({ err: err.message }, 'webhook outbox claim failed')).finally(() => {
      this.pumping = false
      if (this.again && !this.closed) { this.again = false; this.kick() }
    })
  }

  /** Stops claiming, ends what is in flight and hands its claims back (the next start sends them). */
  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    for (const req of this.requests) req.destroy(new Error(SHUTDOWN))
    if (this.inFlight.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve))
    const held = [...this.waiting.values()].flat().map((c) => c.id)
    this.waiting.clear()
    if (held.length > 0) await this.release(held)
    for (const agent of this.agents.values()) agent.destroy()
  }

  private async pump (): Promise<void> {
    const capacity = this.o.maxInFlight - this.inFlight.size - [...this.waiting.values()].reduce((n, q) => n + q.length, 0)
    if (capacity <= 0) return
    const busy = [...this.perWebhook].filter(([, n]) => n >= this.o.perReceiver).map(([id]) => id)
    const rows = await this.database.rows<{ id: string, webhook_id: string, url: string, secret: string, event_type: string, body: string, attempts: number, created_ms: number }>(sql`
      update webhook_deliveries d set claimed_until = now() + make_interval(secs => ${this.o.leaseMs / 1000})
      from webhooks w
      where w.id = d.webhook_id and d.id in (
        select id from (
          select d2.id, row_number() over (partition by d2.webhook_id order by d2.next_attempt_at, d2.id) as rn
          from webhook_deliveries d2 join webhooks w2 on w2.id = d2.webhook_id and w2.enabled
          where d2.status = 'pending' and d2.next_attempt_at <= now() and (d2.claimed_until is null or d2.claimed_until < now())
            and not (d2.webhook_id = any(${textArray(busy)}::uuid[]))
        ) due where rn <= ${this.o.perReceiver} limit ${capacity}
      ) and d.status = 'pending' and (d.claimed_until is null or d.claimed_until < now())
      returning d.id, d.webhook_id, w.url, w.secret, d.event_type, d.body, d.attempts, (extract(epoch from d.created_at) * 1000)::float8 as created_ms`)
    for (const row of rows) {
      const claimed: Claimed = { id: row.id, webhookId: row.webhook_id, url: row.url, secret: row.secret, eventType: row.event_type, body: row.body, attempt: Number(row.attempts) + 1, createdMs: Number(row.created_ms) }
      const queue = this.waiting.get(claimed.webhookId)
      if (queue === undefined) this.waiting.set(claimed.webhookId, [claimed])
      else queue.push(claimed)
    }
    for (const webhookId of [...this.waiting.keys()]) this.startNext(webhookId)
  }

  private startNext (webhookId: string): void {
    const queue = this.waiting.get(webhookId) ?? []
    while (queue.length > 0 && (this.perWebhook.get(webhookId) ?? 0) < this.o.perReceiver && !this.closed) {
      const claimed = queue.shift() as Claimed
      this.perWebhook.set(webhookId, (this.perWebhook.get(webhookId) ?? 0) + 1)
      this.inFlight.set(claimed.id, claimed)
      this.attempt(claimed).then((outcome) => outcome.error === SHUTDOWN ? this.release([claimed.id]) : this.record(claimed, outcome))
        .catch((err: Error) => this.logger.error({ err: err.message, delivery: claimed.id }, 'recording a webhook attempt failed; its claim will expire and it is sent again'))
        .finally(() => {
          this.inFlight.delete(claimed.id)
          const n = (this.perWebhook.get(webhookId) ?? 1) - 1
          if (n === 0) this.perWebhook.delete(webhookId)
          else this.perWebhook.set(webhookId, n)
          if (this.inFlight.size === 0) for (const resolve of this.idle.splice(0)) resolve()
          if (!this.closed) {
            this.startNext(webhookId)
            this.kick()
          }
        })
    }
    if (queue.length === 0) this.waiting.delete(webhookId)
  }

  private agentFor (url: URL): http.Agent {
    const origin = url.origin
    let agent = this.agents.get(origin)
    if (agent === undefined) {
      const options = { keepAlive: true, maxSockets: this.o.perReceiver, maxFreeSockets: this.o.perReceiver, timeout: this.o.timeoutMs }
      agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options)
      this.agents.set(origin, agent)
    }
    return agent
  }

  /** One POST; never throws. */
  private async attempt (claimed: Claimed): Promise<Outcome> {
    const started = performance.now()
    const took = () => Math.round(performance.now() - started)
    let target
    try {
      target = await resolveWebhookTarget(claimed.url, this.o.allowPrivate)
    } catch (err) {
      return { status: null, error: err instanceof WebhookUrlError ? 'refused: ' + err.message : String(err), response: null, durationMs: took() }
    }
    const { url, address, family } = target
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all === true) (callback as unknown as (err: null, addresses: Array<{ address: string, family: number }>) => void)(null, [{ address, family }])
      else callback(null, address, family)
    }
    return await new Promise<Outcome>((resolve) => {
      let settled = false
      const done = (outcome: Omit<Outcome, 'durationMs'>) => {
        if (settled) return
        settled = true
        clearTimeout(deadline)
        this.requests.delete(req)
        resolve({ ...outcome, durationMs: took() })
      }
      const req = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        agent: this.agentFor(url),
        lookup,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(claimed.body),
          'user-agent': 'euicc-hub-webhooks/1',
          'x-hub-event': claimed.eventType,
          'x-hub-delivery': claimed.id,
          'x-hub-attempt': String(claimed.attempt),
          'x-hub-signature-256': signatureHeader(claimed.secret, claimed.body)
        }
      }, (res) => {
        const chunks: Buffer[] = []
        let read = 0
        res.on('data', (chunk: Buffer) => {
          read += chunk.length
          if (read <= RESPONSE_KEPT + chunk.length) chunks.push(chunk)
          if (read > RESPONSE_READ) res.destroy()
        })
        const finish = () => {
          const status = res.statusCode ?? 0
          const response = Buffer.concat(chunks).subarray(0, RESPONSE_KEPT).toString('utf8').replaceAll('\u0000', '')
          const error = status >= 200 && status < 300 ? null : status >= 300 && status < 400 ? `redirect not followed (${status})` : `answered ${status}`
          done({ status, error, response })
        }
        res.on('end', finish)
        res.on('close', finish)
        res.on('error', () => finish())
      })
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs)
      this.requests.add(req)
      req.on('error', (err: NodeJS.ErrnoException) => done({ status: null, error: err.code !== undefined ? `${err.code}: ${err.message}` : err.message, response: null }))
      req.end(claimed.body)
    })
  }

  private async record (claimed: Claimed, outcome: Outcome): Promise<void> {
    const delivered = outcome.error === null
    const expired = Date.now() - claimed.createdMs >= this.o.retryWindowMs
    const delay = Math.min(this.o.retryBaseMs * 2 ** Math.min(claimed.attempt - 1, 30), this.o.retryMaxMs) * (0.8 + 0.4 * Math.random())
    const label = delivered ? 'delivered' : expired ? 'failed' : 'retry'
    this.metrics.webhookAttempts.inc({ outcome: label })
    await this.database.rows(sql`
      with logged as (
        insert into webhook_attempts (delivery_id, attempt, status, error, duration_ms, response)
        values (${claimed.id}, ${claimed.attempt}, ${outcome.status}, ${outcome.error}, ${outcome.durationMs}, ${outcome.response})
      )
      update webhook_deliveries set attempts = ${claimed.attempt}, last_status = ${outcome.status}, last_error = ${outcome.error}, claimed_until = null,
        status = ${delivered ? 'delivered' : expired ? 'failed' : 'pending'},
        delivered_at = ${delivered ? sql`now()` : sql`null`},
        next_attempt_at = ${delivered || expired ? sql`next_attempt_at` : sql`now() + make_interval(secs => ${delay / 1000})`}
      where id = ${claimed.id}`)
    if (!delivered) this.logger.debug({ delivery: claimed.id, attempt: claimed.attempt, error: outcome.error }, expired ? 'webhook delivery given up' : 'webhook delivery will be retried')
  }

  private async release (ids: readonly string[]): Promise<void> {
    await this.database.rows(sql`update webhook_deliveries set claimed_until = null where id = any(${textArray(ids)}::uuid[]) and status = 'pending'`)
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'handing back webhook claims failed; they expire by themselves'))
  }
}
