import { setImmediate } from 'node:timers/promises'
import { sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { ROLLUP_METRICS } from '../db/schema/index.ts'
import { resultRows } from '../db/sql-values.ts'

/** The raw table the rollups read (the key of its row in `telemetry_rollup_state`). */
export const ROLLUP_SOURCE = 'telemetry'

export const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())

/** A watermark (epoch ms, or -Infinity before the first run) as an SQL timestamptz. */
export const timeParam = (ms: number): SQL => sql`${Number.isFinite(ms) ? new Date(ms).toISOString() : '-infinity'}::timestamptz`

export interface RollupOptions {
  /** Most raw rows one run reads (a single statement's rows, which share one `received_at`, are never split). */
  batchRows: number
  /** How far behind the oldest open transaction the watermark stays (ms): covers the instant between a
   * transaction's start and its report in pg_stat_activity, and small clock adjustments. */
  marginMs: number
}

export const rollupDefaults: RollupOptions = { batchRows: 20_000, marginMs: 5000 }

/** The rows a run reads, by driver. PGlite runs the statements on the hub's own thread, where a run is
 * one stall of the event loop while devices wait for their PUBACKs and dashboards for their events: a
 * run of 20,000 rows took 38–53 ms there, one of 2,000 rows 11–26 ms (docs/benchmarks.md), so its runs
 * are a tenth of the size. */
export const rollupOptionsFor = (driver: Database['driver']): RollupOptions =>
  driver === 'pglite' ? { ...rollupDefaults, batchRows: 2000 } : rollupDefaults

const metricAggregates = ROLLUP_METRICS.map((m) => {
  const c = snake(m.key)
  const cast = m.type === 'bigint' ? 'numeric' : 'float8'
  return sql.raw(`count(${c})::int as ${c}_count, coalesce(sum(${c}::${cast}), 0) as ${c}_sum, min(${c}) as ${c}_min, max(${c}) as ${c}_max`)
})
const rollupAggregates = ROLLUP_METRICS.map((m) => {
  const c = snake(m.key)
  return sql.raw(`sum(${c}_count)::int, sum(${c}_sum), min(${c}_min), max(${c}_max)`)
})
const columnList = sql.raw(['device_id', 'bucket', 'samples', ...ROLLUP_METRICS.flatMap((m) => ['count', 'sum', 'min', 'max'].map((k) => `${snake(m.key)}_${k}`))].join(', '))
const merge = sql.raw(['samples = t.samples + excluded.samples', ...ROLLUP_METRICS.flatMap((m) => {
  const c = snake(m.key)
  return [`${c}_count = t.${c}_count + excluded.${c}_count`, `${c}_sum = t.${c}_sum + excluded.${c}_sum`,
    `${c}_min = least(t.${c}_min, excluded.${c}_min)`, `${c}_max = greatest(t.${c}_max, excluded.${c}_max)`]
})].join(', '))

/** The upsert of one run: the raw rows that arrived in [from, to) aggregated per device and minute into
 * `telemetry_1m`, the same delta per hour into `telemetry_1h` (added to what is there: counts and sums
 * add up, min and max take the extreme), and the watermark moved to `to`, all in one statement. */
function upsert (from: number, to: number): SQL {
  return sql`
    with delta as materialized (
      select device_id, date_bin('1 minute', ts, timestamptz '1970-01-01') as bucket, count(*)::int as samples, ${sql.join(metricAggregates, sql`, `)}
      from telemetry where received_at >= ${timeParam(from)} and received_at < ${timeParam(to)}
      group by 1, 2
    ), minutes as (
      insert into telemetry_1m as t (${columnList}) select * from delta
      on conflict (device_id, bucket) do update set ${merge}
    ), hours as (
      insert into telemetry_1h as t (${columnList})
      select device_id, date_bin('1 hour', bucket, timestamptz '1970-01-01'), sum(samples)::int, ${sql.join(rollupAggregates, sql`, `)}
      from delta group by 1, 2
      on conflict (device_id, bucket) do update set ${merge}
    )
    update telemetry_rollup_state set watermark = ${timeParam(to)} where source = ${ROLLUP_SOURCE}
    returning (select coalesce(sum(samples), 0)::int from delta) as rows`
}

const num = (v: unknown): number => Number(v)

/** A run's planner setting, for its transaction: the cut walks the arrival index in order and stops after
 * `batchRows`. Without it PGlite (which never analyzes, so its planner guesses two rows a partition)
 * sorted the whole backlog for every cut, and a run cost as much as everything not yet rolled up
 * (60,000 rows behind: 105 ms for the cut, 6 ms along the index). */
export const RUN_SETTINGS = sql`set local enable_sort = off`

/** Where a run ends: the arrival time of the row `batchRows` past `from` (none: the run takes all up to `to`). */
export const arrivalCut = (from: number, to: number, batchRows: number): SQL => sql`
  select (extract(epoch from received_at) * 1000)::float8 as at from telemetry
  where received_at >= ${timeParam(from)} and received_at < ${timeParam(to)}
  order by received_at offset ${batchRows} limit 1`

/** One run of the rollup job: reads the raw rows that arrived since the watermark (by `received_at`, so a
 * device's late, queued samples count too, whatever their `ts`), adds them to the rollups and moves the
 * watermark, in one transaction: a crash or restart leaves both as they were, so no row is lost or
 * counted twice. The new watermark never passes the start of a transaction still open (pg_stat_activity;
 * on PGlite there is no other), so a row committed later cannot fall behind it. The watermark row is
 * locked first, so two hub processes take turns. Returns the raw rows rolled up, and whether more rows
 * were left for the next run. */
export async function rollUpOnce (database: Database, options: RollupOptions = rollupDefaults): Promise<{ rows: number, more: boolean }> {
  return await database.db.transaction(async (tx) => {
    const one = async (query: SQL): Promise<Record<string, unknown> | undefined> => resultRows<Record<string, unknown>>(await tx.execute(query))[0]
    const state = await one(sql`
      select (extract(epoch from watermark) * 1000)::float8::text as watermark, (extract(epoch from now()) * 1000)::float8 as now,
        (select (extract(epoch from min(xact_start)) * 1000)::float8 from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend' and xact_start is not null) as oldest
      from telemetry_rollup_state where source = ${ROLLUP_SOURCE} for update`)
    if (state === undefined) return { rows: 0, more: false }
    const from = num(state.watermark)
    const oldest = state.oldest === null || state.oldest === undefined ? Infinity : num(state.oldest)
    let to = Math.floor(Math.min(num(state.now), oldest) - options.marginMs)
    await tx.execute(RUN_SETTINGS)
    const cut = await one(arrivalCut(from, to, options.batchRows))
    if (cut !== undefined) to = Math.max(num(cut.at), from + 1)
    if (!(to > from)) return { rows: 0, more: false }
    const done = await one(upsert(from, to))
    return { rows: done === undefined ? 0 : num(done.rows), more: cut !== undefined }
  })
}

/** Runs until caught up (or `maxRuns`): what a start after a bulk load or a long stop needs. The event
 * loop is let go between runs (on PGlite a run's statements resolve without it, so the runs of a whole
 * catch-up would otherwise be one stall). */
export async function rollUpAll (database: Database, options: RollupOptions = rollupDefaults, maxRuns = Infinity): Promise<number> {
  let total = 0
  for (let run = 0; run < maxRuns; run++) {
    if (run > 0) await setImmediate()
    const { rows, more } = await rollUpOnce(database, options)
    total += rows
    if (!more) break
  }
  return total
}
