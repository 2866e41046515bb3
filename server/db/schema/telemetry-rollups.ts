import { bigint, doublePrecision, integer, numeric, pgTable, primaryKey, real, text } from 'drizzle-orm/pg-core'
import { timestamptz } from './columns.ts'

/** The metrics the bucketed telemetry API aggregates, with their raw column type. A rollup row keeps, for
 * each, how many samples carried it, their sum (float8; numeric for the bigint counters, so that a mean
 * from rollups is the raw mean exactly) and their min and max (in the raw type, so they read back the
 * same). */
export const ROLLUP_METRICS = [
  { key: 'rsrp', type: 'real' }, { key: 'rsrq', type: 'real' }, { key: 'sinr', type: 'real' }, { key: 'rssi', type: 'real' },
  { key: 'battery', type: 'real' }, { key: 'temperature', type: 'real' },
  { key: 'bytesUp', type: 'bigint' }, { key: 'bytesDown', type: 'bigint' }, { key: 'uptime', type: 'bigint' },
  { key: 'lat', type: 'double precision' }, { key: 'lon', type: 'double precision' }
] as const

const extreme = (type: string) => type === 'real' ? real() : type === 'bigint' ? bigint({ mode: 'number' }) : doublePrecision()

function metricColumns () {
  const columns: Record<string, ReturnType<typeof integer> | ReturnType<typeof real> | ReturnType<typeof doublePrecision> | ReturnType<typeof numeric> | ReturnType<typeof bigint>> = {}
  for (const m of ROLLUP_METRICS) {
    columns[m.key + 'Count'] = integer().notNull().default(0)
    columns[m.key + 'Sum'] = m.type === 'bigint' ? numeric().notNull().default('0') : doublePrecision().notNull().default(0)
    columns[m.key + 'Min'] = extreme(m.type)
    columns[m.key + 'Max'] = extreme(m.type)
  }
  return columns
}

/** Per device and minute (`bucket` = the minute's start): `samples` rows and each metric's count, sum,
 * min and max. Partitioned by day like `telemetry` (migration 0012; drizzle cannot declare partitions).
 * Maintained by server/telemetry/rollup-job.ts only. */
export const telemetryMinutes = pgTable('telemetry_1m', {
  deviceId: text().notNull(),
  bucket: timestamptz().notNull(),
  samples: integer().notNull(),
  ...metricColumns()
}, (table) => [primaryKey({ columns: [table.deviceId, table.bucket] })])

/** The same per device and hour, partitioned by month. */
export const telemetryHours = pgTable('telemetry_1h', {
  deviceId: text().notNull(),
  bucket: timestamptz().notNull(),
  samples: integer().notNull(),
  ...metricColumns()
}, (table) => [primaryKey({ columns: [table.deviceId, table.bucket] })])

/** How far the rollups have read the raw table: every row whose `received_at` is before `watermark` is
 * counted in them, and no other. One row per rolled-up table (`telemetry`). */
export const rollupState = pgTable('telemetry_rollup_state', {
  source: text().primaryKey(),
  watermark: timestamptz().notNull()
})
