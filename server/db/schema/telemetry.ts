import { bigint, doublePrecision, index, integer, pgTable, primaryKey, real, smallint, text } from 'drizzle-orm/pg-core'
import { timestamptz } from './columns.ts'

/** One row per telemetry sample. The primary key (device, ts, seq) is what makes resends idempotent; it
 * holds `ts`, the partition column, as a partitioned table's unique keys must. The table is partitioned
 * by day on `ts` (migration 0012, server/telemetry/partition-maintenance.ts; drizzle cannot declare
 * partitions). `received_at` (the ingest transaction's start) is indexed for the rollup job, which reads
 * rows by arrival, not by sample time (docs/ingest.md "Partitions, retention and rollups"). */
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
}, (table) => [primaryKey({ columns: [table.deviceId, table.ts, table.seq] }), index('telemetry_received_at_idx').on(table.receivedAt)])

export type TelemetryRow = typeof telemetry.$inferSelect
export type NewTelemetryRow = typeof telemetry.$inferInsert
