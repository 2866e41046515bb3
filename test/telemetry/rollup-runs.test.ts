// The rollup job's runs on a backlog: each run's cut reads along the arrival index and stops after its
// batch (not the whole backlog, which PGlite's planner, without statistics, sorted for every cut), and a
// catch-up of several runs lets the event loop go between them (on PGlite a run's statements resolve
// without it, so a whole catch-up was one stall of the hub's thread).
import t from 'tap'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../../server/db/database.ts'
import { resultRows } from '../../server/db/sql-values.ts'
import { arrivalCut, rollUpAll, rollUpOnce, RUN_SETTINGS } from '../../server/telemetry/rollup-job.ts'
import { throwawayDatabase, type Teardown } from '../helpers/test-hub.ts'

const STATEMENTS = 20
const ROWS = 100

/** A backlog of STATEMENTS ingest statements of ROWS rows each, each with its own arrival time. */
async function backlog (t: Teardown, url?: string): Promise<Database> {
  const database = await openDatabase(url ?? await throwawayDatabase(t), { poolSize: 2 })
  t.teardown(() => database.close())
  for (let s = 0; s < STATEMENTS; s++) {
    await database.rows(sql`insert into telemetry (device_id, ts, seq, rsrp, received_at)
      select 'dev-' || (g % 10), now() - interval '1 minute' * (g % 30), ${s * 10_000} + g, -90, now() - interval '10 minutes' + interval '1 second' * ${s}
      from generate_series(1, ${ROWS}) g`)
  }
  return database
}

interface PlanNode { 'Node Type': string, 'Relation Name'?: string, 'Actual Rows': number, Plans?: PlanNode[] }

/** The raw rows the scans of `telemetry`'s partitions returned, over the whole plan. */
function rowsScanned (node: PlanNode): number {
  const own = node['Relation Name']?.startsWith('telemetry') === true ? node['Actual Rows'] : 0
  return own + (node.Plans ?? []).reduce((n, child) => n + rowsScanned(child), 0)
}

t.test('a run\'s cut reads its batch along the arrival index, not the whole backlog', async (t) => {
  const database = await backlog(t)
  const batchRows = 150
  const scanned = await database.db.transaction(async (tx) => {
    await tx.execute(RUN_SETTINGS)
    const cut = arrivalCut(Number.NEGATIVE_INFINITY, Date.now(), batchRows)
    const plan = await tx.execute(sql`explain (analyze, format json) ${cut}`)
    const json = Object.values(resultRows<Record<string, unknown>>(plan)[0])[0]
    const [root] = (typeof json === 'string' ? JSON.parse(json) : json) as Array<{ Plan: PlanNode }>
    return rowsScanned(root.Plan)
  })
  t.ok(scanned <= batchRows + 1, `the cut read ${scanned} rows for a batch of ${batchRows}, with ${STATEMENTS * ROWS} behind`)
})

/** Index entries read so far from the arrival indexes of telemetry's partitions (the counters flushed first). */
async function arrivalIndexReads (database: Database): Promise<number> {
  await database.rows(sql`select pg_stat_force_next_flush()`)
  await database.rows(sql`select 1`)
  const [{ n }] = await database.rows<{ n: number }>(sql`
    select coalesce(sum(idx_tup_read), 0)::int as n from pg_stat_user_indexes where indexrelname like 'telemetry%received_at_idx'`)
  return n
}

// On PGlite in both passes: one connection, so the counters read are the run's own (on a server the
// run's connection reports its counts when it pleases).
t.test('a run reads what it rolls up, not the whole backlog', async (t) => {
  const database = await backlog(t, 'pglite://memory')
  const batchRows = 150
  const before = await arrivalIndexReads(database)
  const run = await rollUpOnce(database, { batchRows, marginMs: 0 })
  const read = await arrivalIndexReads(database) - before
  t.same(run, { rows: 100, more: true }, 'the run ends before the statement its cut falls in (one of 100 rows)')
  // The cut along the index (batchRows + 1 entries) and the run's own rows; sorting the backlog for the
  // cut would read all 2,000.
  t.ok(read <= batchRows + 1 + run.rows, `the run read ${read} arrival-index entries for ${run.rows} rows, with ${STATEMENTS * ROWS} behind`)
})

t.test('a catch-up of several runs lets the event loop go between them', async (t) => {
  const database = await backlog(t)
  let turns = 0
  let spinning = true
  const spin = (): void => { if (spinning) { turns++; setImmediate(spin) } }
  setImmediate(spin)
  const rows = await rollUpAll(database, { batchRows: ROWS, marginMs: 0 })
  spinning = false
  t.equal(rows, STATEMENTS * ROWS, 'every row of the backlog is rolled up')
  t.ok(turns >= STATEMENTS - 1, `the loop turned ${turns} times during ${STATEMENTS} runs`)
  const [{ samples }] = await database.rows<{ samples: number }>(sql`select coalesce(sum(samples), 0)::int as samples from telemetry_1m`)
  t.equal(samples, STATEMENTS * ROWS, 'the minute rollups count each row once')
})
