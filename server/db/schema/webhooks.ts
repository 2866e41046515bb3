import { sql } from 'drizzle-orm'
import { bigserial, boolean, index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

/** A tenant's webhook: where to POST which event types, and the HMAC key its deliveries are signed with
 * (returned once, at creation; the hub must keep it to sign). */
export const webhooks = pgTable('webhooks', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  url: text().notNull(),
  events: text().array().notNull(),
  secret: text().notNull(),
  enabled: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (table) => [index().on(table.tenantId, table.createdAt)])

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const
export type DeliveryStatus = typeof deliveryStatuses[number]

/** The durable outbox: one row per (webhook, event), written when the event is accepted, and its delivery
 * state. `body` is fixed at creation, so every attempt sends the same bytes and the same signature.
 * A process claims a due row by setting `claimedUntil` in a conditional UPDATE (no two processes send
 * one claim); a claim that outlives its process expires and the row is sent again (at-least-once). */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: uuid().primaryKey(),
  webhookId: uuid().notNull().references(() => webhooks.id, { onDelete: 'cascade' }),
  tenantId: uuid().notNull(),
  eventId: uuid().notNull(),
  eventType: text().notNull(),
  body: text().notNull(),
  status: text({ enum: deliveryStatuses }).notNull().default('pending'),
  attempts: integer().notNull().default(0),
  nextAttemptAt: timestamptz().notNull().defaultNow(),
  claimedUntil: timestamptz(),
  lastStatus: integer(),
  lastError: text(),
  createdAt: createdAt(),
  deliveredAt: timestamptz()
}, (table) => [
  uniqueIndex().on(table.webhookId, table.eventId),
  index('webhook_deliveries_due').on(table.nextAttemptAt).where(sql`status = 'pending'`),
  index().on(table.webhookId, table.createdAt, table.id)
])

/** Every attempt of a delivery and the receiver's answer (the delivery log). */
export const webhookAttempts = pgTable('webhook_attempts', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  deliveryId: uuid().notNull().references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
  attempt: integer().notNull(),
  at: timestamptz().notNull().defaultNow(),
  /** The HTTP status answered, or null when there was no answer (refused address, timeout, reset). */
  status: integer(),
  error: text(),
  durationMs: integer().notNull(),
  /** The first bytes of the answer's body. */
  response: text()
}, (table) => [index().on(table.deliveryId, table.attempt)])

export type WebhookRow = typeof webhooks.$inferSelect
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect
