import { bigint, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { timestamptz } from './columns.ts'

export const auditActorTypes = ['user', 'device', 'api-key', 'system'] as const
export const auditOutcomes = ['success', 'failure', 'denied'] as const

/** The tamper-evident audit log: each row's `hash` is SHA-256(previous row's hash ‖ this row's canonical
 * content), so editing or deleting a row breaks the chain at that row (server/audit/audit-chain.ts).
 * Ids are assigned by the appender under a lock and are contiguous: a gap is a deleted row. `detail` is
 * kept as the exact canonical JSON text that was hashed (jsonb would re-format it). */
export const auditLog = pgTable('audit_log', {
  id: bigint({ mode: 'number' }).primaryKey(),
  at: timestamptz().notNull(),
  tenantId: uuid(),
  actorType: text({ enum: auditActorTypes }).notNull(),
  actorId: text(),
  action: text().notNull(),
  target: text(),
  outcome: text({ enum: auditOutcomes }).notNull(),
  detail: text().notNull(),
  ip: text(),
  prevHash: text().notNull(),
  hash: text().notNull()
}, (table) => [index().on(table.tenantId, table.id), index().on(table.action, table.id)])

/** One row (id = 1): the head of the chain. Appenders lock it (`select … for update`), which serializes
 * appends across processes; it also records the last id and hash, so truncating the tail is detected. */
export const auditHead = pgTable('audit_head', {
  id: bigint({ mode: 'number' }).primaryKey(),
  lastId: bigint({ mode: 'number' }).notNull(),
  lastHash: text().notNull()
})

export type AuditRow = typeof auditLog.$inferSelect
