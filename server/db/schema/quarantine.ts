import { bigserial, index, integer, pgTable, text } from 'drizzle-orm/pg-core'
import { bytea, createdAt } from './columns.ts'

/** Payloads that were acknowledged but could not be used: kept with the reason, never resent forever. */
export const quarantine = pgTable('quarantine', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  deviceId: text(),
  topic: text().notNull(),
  /** The payload as received (its first 64 KB); null when it was over the topic's size limit. */
  payload: bytea(),
  /** The payload's size in bytes as received. */
  sizeBytes: integer(),
  reason: text().notNull(),
  detail: text(),
  receivedAt: createdAt()
}, (table) => [index().on(table.deviceId, table.receivedAt)])

export type QuarantineRow = typeof quarantine.$inferSelect
export type NewQuarantineRow = typeof quarantine.$inferInsert
