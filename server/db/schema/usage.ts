import { bigint, date, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

export const planPeriods = ['day', 'month'] as const
export type PlanPeriod = typeof planPeriods[number]

/** A data plan: each device on it may use `quotaBytes` (up + down) per UTC day or month. */
export const plans = pgTable('plans', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  name: text().notNull(),
  quotaBytes: bigint({ mode: 'number' }).notNull(),
  period: text({ enum: planPeriods }).notNull(),
  createdAt: createdAt()
}, (table) => [uniqueIndex().on(table.tenantId, table.name)])

/** The last cumulative modem counters read from each device, and the sample they came from: the next
 * sample's usage is its difference to these (a decrease is a counter reset). Like telemetry, no foreign
 * key to devices (nothing on the ingest path may fail on a concurrent delete). */
export const usageCounters = pgTable('usage_counters', {
  deviceId: text().primaryKey(),
  bytesUp: bigint({ mode: 'number' }),
  bytesDown: bigint({ mode: 'number' }),
  lastTs: timestamptz(),
  lastSeq: bigint({ mode: 'number' }),
  updatedAt: updatedAt()
})

/** Bytes used per device and UTC day, summed incrementally at ingest. */
export const usageDaily = pgTable('usage_daily', {
  deviceId: text().notNull(),
  day: date({ mode: 'string' }).notNull(),
  bytesUp: bigint({ mode: 'number' }).notNull().default(0),
  bytesDown: bigint({ mode: 'number' }).notNull().default(0)
}, (table) => [primaryKey({ columns: [table.deviceId, table.day] })])

/** Bytes used per device and UTC month (`month` is its first day), summed with the daily rows. */
export const usageMonthly = pgTable('usage_monthly', {
  deviceId: text().notNull(),
  month: date({ mode: 'string' }).notNull(),
  bytesUp: bigint({ mode: 'number' }).notNull().default(0),
  bytesDown: bigint({ mode: 'number' }).notNull().default(0)
}, (table) => [primaryKey({ columns: [table.deviceId, table.month] })])

export type PlanRow = typeof plans.$inferSelect
export type UsageCounterRow = typeof usageCounters.$inferSelect
