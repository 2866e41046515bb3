import { randomUUID } from 'node:crypto'
import { sql, type SQL } from 'drizzle-orm'
import type { HubEvent } from '../../protocol/events.ts'
import type { Database } from '../db/database.ts'
import { textArray } from '../db/sql-values.ts'

/** The event types a webhook may subscribe to. `command.ended` is a `command.updated` that reached an end
 * (succeeded, failed, expired, cancelled); the others are the hub's own event names. */
export const WEBHOOK_EVENT_TYPES = ['alert.raised', 'alert.acknowledged', 'alert.resolved', 'device.online', 'device.offline', 'notification', 'command.ended'] as const
export type WebhookEventType = typeof WEBHOOK_EVENT_TYPES[number]

const COMMAND_ENDS = new Set(['succeeded', 'failed', 'expired', 'cancelled'])

/** The webhook type of a hub event, or null when no webhook can receive it. */
export function webhookType (event: HubEvent): WebhookEventType | null {
  switch (event.type) {
    case 'alert.raised': case 'alert.acknowledged': case 'alert.resolved':
    case 'device.online': case 'device.offline': case 'notification':
      return event.type
    case 'command.updated':
      return COMMAND_ENDS.has(event.data.status) ? 'command.ended' : null
    default:
      return null
  }
}

interface Executor { execute (query: SQL): Promise<unknown> }

export interface WebhookOutboxOptions {
  /** HUB_PUBLIC_URL: when set, each body carries `links` to the API objects it names. */
  publicUrl?: string | null
  /** Called after rows may have been written (the delivery pump of this process looks at once). */
  written?: () => void
  onError?: (err: Error) => void
}

/** The durable outbox's writer. An accepted event becomes one row per subscribed webhook of its tenant
 * (`webhook_deliveries`), with its body fixed: `{id, type, occurredAt, tenantId, data}` (`id` is the
 * event's, shared by the webhooks receiving it; each delivery has its own id, `X-Hub-Delivery`).
 *
 * Alert events are written in the transaction that changes the alert (`stage`), so an alert and its
 * deliveries commit together. The other events (presence, notifications, command ends) are written by
 * `accept`, called for the events this process publishes, in batches a few milliseconds after their own
 * commit; `close` writes what is still waiting. The join on `webhooks` is in SQL, so a webhook created on
 * another process receives events from the next batch on. */
export class WebhookOutbox {
  private waiting: Array<{ event: HubEvent, type: WebhookEventType, at: Date }> = []
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> = Promise.resolve()

  constructor (private readonly database: Database, private readonly options: WebhookOutboxOptions = {}) {}

  /** For the events of this process as they are published (cheap: a type check and a push). Alert events
   * are skipped here: `stage` wrote them with the alert. */
  accept = (event: HubEvent): void => {
    if (event.type.startsWith('alert.')) return
    const type = webhookType(event)
    if (type === null) return
    this.waiting.push({ event, type, at: new Date() })
    this.timer ??= setTimeout(() => { this.timer = null; this.drain() }, 20)
  }

  /** Writes the deliveries of `events` with `tx` (inside the caller's transaction). */
  async stage (tx: Executor, events: readonly HubEvent[]): Promise<void> {
    const rows = events.flatMap((event) => {
      const type = webhookType(event)
      return type === null ? [] : [{ event, type, at: new Date() }]
    })
    if (rows.length > 0) await tx.execute(this.insert(rows))
  }

  /** Signals that rows from `stage` have committed. */
  committed (): void {
    this.options.written?.()
  }

  /** Writes what `accept` holds. */
  async close (): Promise<void> {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    this.drain()
    await this.writing
  }

  private drain (): void {
    const batch = this.waiting.splice(0)
    if (batch.length === 0) return
    this.writing = this.writing.then(async () => {
      try {
        await this.database.rows(this.insert(batch))
        this.options.written?.()
      } catch (err) {
        this.options.onError?.(err as Error)
      }
    })
  }

  private insert (rows: ReadonlyArray<{ event: HubEvent, type: WebhookEventType, at: Date }>): SQL {
    const ids = rows.map(() => randomUUID())
    const bodies = rows.map(({ event, type, at }, i) => this.body(ids[i], type, event, at))
    return sql`insert into webhook_deliveries (id, webhook_id, tenant_id, event_id, event_type, body)
      select gen_random_uuid(), w.id, e.tenant_id, e.event_id, e.type, e.body
      from unnest(${textArray(ids)}::uuid[], ${textArray(rows.map((r) => r.event.tenantId))}::uuid[], ${textArray(rows.map((r) => r.type))}, ${textArray(bodies)})
        as e(event_id, tenant_id, type, body)
      join webhooks w on w.tenant_id = e.tenant_id and w.enabled and e.type = any(w.events)
      on conflict (webhook_id, event_id) do nothing`
  }

  private body (id: string, type: WebhookEventType, event: HubEvent, at: Date): string {
    const body: Record<string, unknown> = { id, type, occurredAt: at.toISOString(), tenantId: event.tenantId, data: event.data }
    const base = this.options.publicUrl
    if (base !== null && base !== undefined) {
      const data = event.data as { deviceId?: unknown, id?: unknown }
      const links: Record<string, string> = {}
      if (typeof data.deviceId === 'string') links.device = `${base}/api/devices/${encodeURIComponent(data.deviceId)}`
      if (type.startsWith('alert.') && typeof data.id === 'string') links.alert = `${base}/api/alerts/${data.id}`
      if (type === 'command.ended' && typeof data.id === 'string') links.command = `${base}/api/commands/${data.id}`
      body.links = links
    }
    return JSON.stringify(body)
  }
}
