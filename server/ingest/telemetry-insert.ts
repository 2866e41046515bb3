import { sql, type SQL } from 'drizzle-orm'
import { getTableConfig } from 'drizzle-orm/pg-core'
import { telemetry, type NewTelemetryRow } from '../db/schema/index.ts'
import { unnestInsert, type UnnestColumn } from '../db/unnest-insert.ts'
import { COUNTED_RETURNING } from '../usage/usage-counter.ts'

/** The telemetry columns an insert writes (all but `received_at`, which defaults to now()), read from the
 * drizzle schema so the two cannot drift apart. */
const columns: Array<UnnestColumn<NewTelemetryRow> & { required: boolean }> = getTableConfig(telemetry).columns
  .filter((c) => c.name !== 'receivedAt')
  .map((c) => ({
    required: c.notNull,
    name: c.name.replace(/[A-Z]/g, (ch) => '_' + ch.toLowerCase()),
    type: c.getSQLType().startsWith('timestamp') ? 'timestamptz' : c.getSQLType(),
    value: (row) => row[c.name as keyof NewTelemetryRow]
  }))

/** One INSERT for a whole batch, atomic by itself, idempotent on the primary key (device, ts, seq).
 * Metrics no sample of the batch carries are left out (they default to null): devices send a handful of
 * the twenty, and every array left out is one less to build, send and parse. */
export function insertTelemetry (rows: readonly NewTelemetryRow[], returning: SQL = sql``): SQL {
  const present = columns.filter((c) => c.required || rows.some((row) => c.value(row) !== undefined))
  return unnestInsert('telemetry', present, rows, sql`on conflict do nothing ${returning}`)
}

/** The same insert, answering the rows it inserted that carry a usage counter (a resend is not among
 * them), for the usage count of the same transaction (server/usage/usage-counter.ts). */
export function insertTelemetryCounted (rows: readonly NewTelemetryRow[]): SQL {
  return sql`with inserted as (${insertTelemetry(rows, COUNTED_RETURNING)}) select * from inserted where bytes_up is not null or bytes_down is not null`
}
