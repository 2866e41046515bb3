import { setImmediate } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import type { Database } from './database.ts'

/** autovacuum's default thresholds: a table is vacuumed once its dead rows pass 50 + 20 % of its live ones,
 * and analyzed once the rows changed since its last analyze pass 50 + 10 %. */
export const UPKEEP_THRESHOLDS = { vacuumBase: 50, vacuumScale: 0.2, analyzeBase: 50, analyzeScale: 0.1 }

/** A table due for upkeep, and what it needs. */
export interface UpkeepStep { table: string, vacuum: boolean, analyze: boolean }

/** The tables (partitions included, partitioned parents left out: they hold no rows) that autovacuum would
 * take up now, from the database's own counters (`pg_stat_user_tables`), and those that hold rows but were
 * never analyzed: PGlite does not keep those counters across a restart, so rows written before it would
 * otherwise never count. */
export async function dueTables (database: Database, thresholds = UPKEEP_THRESHOLDS): Promise<UpkeepStep[]> {
  return await database.rows<UpkeepStep>(sql`
    select "table", "vacuum", "analyze" from (
      select quote_ident(s.schemaname) || '.' || quote_ident(s.relname) as "table",
        s.n_dead_tup > ${thresholds.vacuumBase} + ${thresholds.vacuumScale}::float8 * s.n_live_tup as "vacuum",
        s.n_mod_since_analyze > ${thresholds.analyzeBase} + ${thresholds.analyzeScale}::float8 * s.n_live_tup
          or (c.reltuples < 0 and pg_relation_size(c.oid) > 0) as "analyze",
        s.n_dead_tup + s.n_mod_since_analyze as behind
      from pg_stat_user_tables s join pg_class c on c.oid = s.relid
      where c.relkind = 'r'
    ) t
    where "vacuum" or "analyze"
    order by behind desc`)
}

/** One pass of the upkeep that autovacuum does on a Postgres server and that PGlite never runs (it is
 * Postgres in single-user mode, where no autovacuum worker starts): each due table in turn, `VACUUM
 * (ANALYZE)` when its dead rows are due, else `ANALYZE`, the event loop let go between tables (on PGlite
 * each statement runs on the hub's own thread). Without it an embedded hub's tables only grow their dead
 * rows, and its planner never has statistics: on 100,000 devices the device list by tag took 23 ms, by
 * `q` 87 ms and behind a deep cursor 26 ms, and 2–5 ms once analyzed. Returns what it did. */
export async function upkeepOnce (database: Database, thresholds = UPKEEP_THRESHOLDS): Promise<UpkeepStep[]> {
  // The counters of the statements just run: a backend sends its pending counts at most once a second.
  await database.rows(sql`select pg_stat_force_next_flush()`)
  const due = await dueTables(database, thresholds)
  for (const step of due) {
    await setImmediate()
    await database.rows(sql.raw(step.vacuum ? `vacuum (analyze) ${step.table}` : `analyze ${step.table}`))
  }
  return due
}
