import { randomUUID } from 'node:crypto'
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { webhookAttempts, webhookDeliveries, webhooks, type DeliveryStatus, type WebhookAttemptRow, type WebhookDeliveryRow, type WebhookRow } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'
import { decodeCursor, encodeCursor } from '../repositories/cursor.ts'
import { newWebhookSecret } from './webhook-signing.ts'

export type PublicWebhook = Omit<WebhookRow, 'secret'>
export type DeliveryWithAttempts = Omit<WebhookDeliveryRow, 'body'> & { attemptLog: WebhookAttemptRow[] }

const publicColumns = {
  id: webhooks.id,
  tenantId: webhooks.tenantId,
  url: webhooks.url,
  events: webhooks.events,
  enabled: webhooks.enabled,
  createdAt: webhooks.createdAt,
  updatedAt: webhooks.updatedAt
}

/** Attempts shown per delivery in the log (the newest). */
const ATTEMPTS_SHOWN = 20

/** Webhooks of one tenant and their delivery log; every query carries the tenant predicate. The secret
 * leaves this class once, from `create`. */
export class WebhookStore {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async create (tenantId: string, input: { url: string, events: string[], enabled?: boolean }): Promise<{ webhook: PublicWebhook, secret: string }> {
    const secret = newWebhookSecret()
    const [webhook] = await this.db.insert(webhooks).values({ id: randomUUID(), tenantId, url: input.url, events: [...new Set(input.events)], secret, enabled: input.enabled ?? true }).returning(publicColumns)
    return { webhook, secret }
  }

  async list (tenantId: string): Promise<PublicWebhook[]> {
    return await this.db.select(publicColumns).from(webhooks).where(eq(webhooks.tenantId, tenantId)).orderBy(desc(webhooks.createdAt), desc(webhooks.id)).limit(1000)
  }

  async count (tenantId: string): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)::int` }).from(webhooks).where(eq(webhooks.tenantId, tenantId))
    return row.n
  }

  async get (tenantId: string, id: string): Promise<PublicWebhook | null> {
    const [row] = await this.db.select(publicColumns).from(webhooks).where(and(eq(webhooks.tenantId, tenantId), eq(webhooks.id, id)))
    return row ?? null
  }

  async update (tenantId: string, id: string, patch: { url?: string, events?: string[], enabled?: boolean }): Promise<PublicWebhook | null> {
    const set = { ...patch, ...(patch.events === undefined ? {} : { events: [...new Set(patch.events)] }), updatedAt: new Date() }
    const [row] = await this.db.update(webhooks).set(set).where(and(eq(webhooks.tenantId, tenantId), eq(webhooks.id, id))).returning(publicColumns)
    return row ?? null
  }

  /** Deletes the webhook with its outbox rows and log (what was not delivered is dropped). */
  async delete (tenantId: string, id: string): Promise<boolean> {
    const rows = await this.db.delete(webhooks).where(and(eq(webhooks.tenantId, tenantId), eq(webhooks.id, id))).returning({ id: webhooks.id })
    return rows.length > 0
  }

  /** The webhook's deliveries, newest first by (createdAt, id), each with its newest attempts. */
  async deliveries (tenantId: string, webhookId: string, query: { status?: DeliveryStatus, limit: number, cursor?: string }): Promise<{ items: DeliveryWithAttempts[], nextCursor: string | null }> {
    const where: SQL[] = [eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.webhookId, webhookId)]
    if (query.status !== undefined) where.push(eq(webhookDeliveries.status, query.status))
    if (query.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(query.cursor, 2)
      where.push(sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (${createdAt}::timestamptz, ${id}::uuid)`)
    }
    const rows = await this.db.select({
      id: webhookDeliveries.id,
      webhookId: webhookDeliveries.webhookId,
      tenantId: webhookDeliveries.tenantId,
      eventId: webhookDeliveries.eventId,
      eventType: webhookDeliveries.eventType,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      nextAttemptAt: webhookDeliveries.nextAttemptAt,
      claimedUntil: webhookDeliveries.claimedUntil,
      lastStatus: webhookDeliveries.lastStatus,
      lastError: webhookDeliveries.lastError,
      createdAt: webhookDeliveries.createdAt,
      deliveredAt: webhookDeliveries.deliveredAt
    }).from(webhookDeliveries).where(and(...where)).orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)).limit(query.limit + 1)
    const page = rows.slice(0, query.limit)
    const attempts = page.length === 0
      ? []
      : await this.db.select().from(webhookAttempts)
        .where(sql`${webhookAttempts.deliveryId} = any(${textArray(page.map((r) => r.id))}::uuid[]) and ${webhookAttempts.attempt} > (
          select greatest(0, d.attempts - ${ATTEMPTS_SHOWN}) from webhook_deliveries d where d.id = ${webhookAttempts.deliveryId})`)
        .orderBy(webhookAttempts.deliveryId, webhookAttempts.attempt)
    const byDelivery = new Map<string, WebhookAttemptRow[]>()
    for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a])
    const last = page.at(-1)
    return {
      items: page.map((r) => ({ ...r, attemptLog: byDelivery.get(r.id) ?? [] })),
      nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.createdAt.toISOString(), last.id]) : null
    }
  }
}
