import { sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { resultRows } from '../db/sql-values.ts'
import { ROLLUP_SOURCE } from './rollup-job.ts'

export type PartitionUnit = 'day' | 'month'

/** A table partitioned by range on a time column, one partition per UTC day or month, named
 * `<table>_pYYYYMMDD` / `<table>_pYYYYMM` (migration 0012 creates the first ones), with a DEFAULT
 * partition `<table>_default` for any row no partition covers. */
export interface PartitionedTable {
  table: string
  column: string
  unit: PartitionUnit
  /** Partitions whose whole range is older than this many days are dropped (0: kept forever). */
  keepDays: number
  /** The raw table: a partition is dropped only once the rollups have counted every row in it. */
  rolledUp: boolean
}

export interface RetentionSettings {
  /** HUB_TELEMETRY_RETENTION_DAYS: raw samples (0: forever). */
  telemetryDays: number
  /** HUB_ROLLUP_RETENTION_DAYS: hour rollups (0: forever). */
  rollupDays: number
}

/** Minute rollups are kept this many times as long as raw samples (and never longer than hour rollups). */
export const MINUTE_ROLLUP_RETENTION_FACTOR = 4
/** Partitions made ahead of time: a week of days, the next month. */
const AHEAD: Record<PartitionUnit, number> = { day: 7, month: 1 }

/** The three partitioned tables and how long each keeps its data (docs/ingest.md). */
export function partitionedTables (retention: RetentionSettings): PartitionedTable[] {
  const minuteDays = retention.telemetryDays === 0 ? retention.rollupDays : retention.telemetryDays * MINUTE_ROLLUP_RETENTION_FACTOR
  return [
    { table: 'telemetry', column: 'ts', unit: 'day', keepDays: retention.telemetryDays, rolledUp: true },
    { table: 'telemetry_1m', column: 'bucket', unit: 'day', keepDays: retention.rollupDays === 0 ? minuteDays : Math.min(minuteDays, retention.rollupDays), rolledUp: false },
    { table: 'telemetry_1h', column: 'bucket', unit: 'month', keepDays: retention.rollupDays, rolledUp: false }
  ]
}

/** The UTC start of the unit holding `ms`, `n` units later. */
export function unitStart (ms: number, unit: PartitionUnit, n = 0): number {
  const d = new Date(ms)
  return unit === 'day'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + n)
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1)
}

export function partitionName (table: string, start: number, unit: PartitionUnit): string {
  const iso = new Date(start).toISOString()
  return `${table}_p${iso.slice(0, 4)}${iso.slice(5, 7)}${unit === 'day' ? iso.slice(8, 10) : ''}`
}

/** A time as an SQL literal (DDL takes no parameters); `ms` is always one of our own unit starts. */
const literal = (ms: number): SQL => sql.raw(`'${new Date(ms).toISOString()}'::timestamptz`)

/** The start of each partition of `t` the hub made (its own naming), by start time. */
async function existingPartitions (database: Database, t: PartitionedTable): Promise<Map<number, string>> {
  const rows = await database.rows<{ name: string }>(sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = ${t.table}::regclass`)
  const found = new Map<number, string>()
  const pattern = new RegExp(`^${t.table}_p(\\d{4})(\\d{2})(\\d{2})?$`)
  for (const { name } of rows) {
    const m = pattern.exec(name)
    if (m === null || (t.unit === 'day') !== (m[3] !== undefined)) continue
    found.set(Date.UTC(Number(m[1]), Number(m[2]) - 1, m[3] === undefined ? 1 : Number(m[3])), name)
  }
  return found
}

/** Creates the partition of `t` for [start, end) and attaches it, moving into it first any rows of that
 * range the DEFAULT partition holds (attaching over them would fail). Made as a plain table with a CHECK
 * of its range, then attached: ATTACH takes a weaker lock on the parent than CREATE … PARTITION OF, and
 * the CHECK spares it a scan. One transaction; a lock not granted within 5 s fails it (the next run
 * tries again) rather than queue the ingest behind it.
 *
 * A move locks the whole table, not only its DEFAULT partition: a statement planned before the ATTACH
 * commits keeps the old list of partitions, and one that had to wait for the DEFAULT partition's lock
 * then read neither copy of the moved rows (the rollup job passed them by for good; CI caught it). With
 * the table locked, a statement waits before it is planned and sees the new partition. Moves are rare
 * (a day no partition covers) and short; creating a partition with nothing to move keeps the weak lock. */
async function createPartition (database: Database, t: PartitionedTable, start: number, moveFromDefault: boolean): Promise<number> {
  const end = unitStart(start, t.unit, 1)
  const name = partitionName(t.table, start, t.unit)
  const table = sql.identifier(t.table)
  const partition = sql.identifier(name)
  const fallback = sql.identifier(t.table + '_default')
  const column = sql.identifier(t.column)
  let moved = 0
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`set local lock_timeout = '5s'`)
    if (moveFromDefault) await tx.execute(sql`lock table ${table} in access exclusive mode`)
    await tx.execute(sql`create table ${partition} (like ${table} including defaults including constraints)`)
    await tx.execute(sql`alter table ${partition} add constraint ${sql.identifier(name + '_range')} check (${column} >= ${literal(start)} and ${column} < ${literal(end)})`)
    if (moveFromDefault) {
      const rows = resultRows<{ n: number }>(await tx.execute(sql`
        with gone as (delete from ${fallback} where ${column} >= ${literal(start)} and ${column} < ${literal(end)} returning *)
        , placed as (insert into ${partition} select * from gone returning 1)
        select count(*)::int as n from placed`))
      moved = rows[0]?.n ?? 0
    }
    await tx.execute(sql`alter table ${table} attach partition ${partition} for values from (${literal(start)}) to (${literal(end)})`)
    await tx.execute(sql`alter table ${partition} drop constraint ${sql.identifier(name + '_range')}`)
  })
  return moved
}

/** Creates every missing partition of `t` for the units that [from, to] touches (a bulk load makes its
 * partitions first, so its rows do not all land in DEFAULT). Returns the partitions created. */
export async function ensurePartitions (database: Database, t: PartitionedTable, from: number, to: number): Promise<string[]> {
  const existing = await existingPartitions(database, t)
  const created: string[] = []
  for (let start = unitStart(from, t.unit); start <= to; start = unitStart(start, t.unit, 1)) {
    if (existing.has(start)) continue
    await createPartition(database, t, start, false)
    created.push(partitionName(t.table, start, t.unit))
  }
  return created
}

export interface MaintenanceReport { created: string[], dropped: string[], moved: number, deleted: number }

const rolledUpBefore = sql`(select watermark from telemetry_rollup_state where source = ${ROLLUP_SOURCE})`

/** One pass over every partitioned table: partitions for yesterday to a week ahead (the next month for
 * hour rollups) and for every day or month that has rows in the DEFAULT partition (moved into theirs);
 * then retention: partitions entirely older than the table's `keepDays` dropped whole, and the DEFAULT
 * partition's rows of that age deleted (it holds only stray far-past or far-future rows). A raw
 * partition is dropped only once every row in it has been rolled up; otherwise the next pass does it. */
export async function maintainPartitions (database: Database, tables: readonly PartitionedTable[], now = Date.now()): Promise<MaintenanceReport> {
  const report: MaintenanceReport = { created: [], dropped: [], moved: 0, deleted: 0 }
  for (const t of tables) {
    // A table that is not declaratively partitioned (a TimescaleDB hypertable, say) is left alone.
    const [kind] = await database.rows<{ kind: string }>(sql`select relkind::text as kind from pg_class where oid = to_regclass(${t.table})`)
    if (kind?.kind !== 'p') continue
    const column = sql.identifier(t.column)
    const fallback = sql.identifier(t.table + '_default')
    const horizon = t.keepDays > 0 ? now - t.keepDays * 86_400_000 : null
    const expired = (start: number) => horizon !== null && unitStart(start, t.unit, 1) <= horizon
    const existing = await existingPartitions(database, t)
    const inDefault = new Set((await database.rows<{ start: string }>(sql`
      select distinct (extract(epoch from date_trunc(${t.unit}, ${column}, 'UTC')) * 1000)::float8::text as start from ${fallback}`)).map((r) => Number(r.start)))
    const wanted = new Set<number>()
    for (let i = -1; i <= AHEAD[t.unit]; i++) wanted.add(unitStart(now, t.unit, i))
    for (const start of inDefault) wanted.add(start)
    for (const start of [...wanted].sort((a, b) => a - b)) {
      if (existing.has(start) || expired(start)) continue
      report.moved += await createPartition(database, t, start, inDefault.has(start))
      report.created.push(partitionName(t.table, start, t.unit))
    }
    if (horizon === null) continue
    const counted = t.rolledUp ? sql` and received_at < ${rolledUpBefore}` : sql``
    const [deleted] = await database.rows<{ n: number }>(sql`
      with gone as (delete from ${fallback} where ${column} < ${literal(unitStart(horizon, 'day'))}${counted} returning 1) select count(*)::int as n from gone`)
    report.deleted += deleted?.n ?? 0
    for (const [start, name] of [...existing].sort((a, b) => a[0] - b[0])) {
      if (!expired(start)) continue
      const partition = sql.identifier(name)
      if (t.rolledUp) {
        const [pending] = await database.rows<{ pending: boolean }>(sql`select exists (select 1 from ${partition} where received_at >= ${rolledUpBefore}) as pending`)
        if (pending?.pending === true) continue
      }
      await database.db.transaction(async (tx) => {
        await tx.execute(sql`set local lock_timeout = '5s'`)
        await tx.execute(sql`alter table ${sql.identifier(t.table)} detach partition ${partition}`)
        await tx.execute(sql`drop table ${partition}`)
      })
      report.dropped.push(name)
    }
  }
  return report
}
