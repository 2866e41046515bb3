import { bigint, doublePrecision, integer, pgTable, primaryKey, real, smallint, text } from 'drizzle-orm/pg-core'
import { timestamptz } from './columns.ts'

/** One row per telemetry sample. The primary key (device, ts, seq) is what makes resends idempotent. */
export const telemetry = pgTable('telemetry', {
  deviceId: text().notNull(),
  ts: timestamptz().notNull(),
  seq: bigint({ mode: 'number' }).notNull(),
  receivedAt: timestamptz().notNull().defaultNow(),
  rsrp: real(),
  rsrq: real(),
  sinr: real(),
  rssi: real(),
  rat: text(),
  mcc: text(),
  mnc: text(),
  cellId: bigint({ mode: 'number' }),
  tac: integer(),
  band: smallint(),
  bytesUp: bigint({ mode: 'number' }),
  bytesDown: bigint({ mode: 'number' }),
  battery: real(),
  temperature: real(),
  uptime: bigint({ mode: 'number' }),
  lat: doublePrecision(),
  lon: doublePrecision()
}, (table) => [primaryKey({ columns: [table.deviceId, table.ts, table.seq] })])

export type TelemetryRow = typeof telemetry.$inferSelect
export type NewTelemetryRow = typeof telemetry.$inferInsert
