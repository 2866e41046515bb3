import { sql, type SQL } from 'drizzle-orm'
import { getTableConfig } from 'drizzle-orm/pg-core'
import { telemetry, type NewTelemetryRow } from '../db/schema/index.ts'

/** The telemetry columns an insert writes (all but `received_at`, which defaults to now()), with the
 * SQL array type of each, read from the drizzle schema so the two cannot drift apart. */
const columns = getTableConfig(telemetry).columns
  .filter((c) => c.name !== 'receivedAt')
  .map((c) => ({
    key: c.name as keyof NewTelemetryRow,
    sqlName: c.name.replace(/[A-Z]/g, (ch) => '_' + ch.toLowerCase()),
    // postgres.js cannot bind a timestamptz[] parameter: times travel as text[] and are cast.
    cast: c.getSQLType().startsWith('timestamp') ? `text[]::${c.getSQLType()}[]` : c.getSQLType() + '[]'
  }))

/** One INSERT … SELECT FROM unnest(…) for a whole batch: one parameter per column instead of one per
 * value, parsed once, and atomic on its own (no BEGIN/COMMIT round trips). Idempotent on the primary key
 * (device, ts, seq). */
export function insertTelemetry (rows: readonly NewTelemetryRow[]): SQL {
  const arrays = columns.map(({ key, cast }) => {
    const values = rows.map((row) => {
      const value = row[key]
      return value instanceof Date ? value.toISOString() : value ?? null
    })
    return sql`${sql.param(values)}::${sql.raw(cast)}`
  })
  const names = sql.raw(columns.map((c) => `"${c.sqlName}"`).join(', '))
  return sql`insert into telemetry (${names}) select * from unnest(${sql.join(arrays, sql`, `)}) on conflict do nothing`
}
