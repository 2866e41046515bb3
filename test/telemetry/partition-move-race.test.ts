// A query that runs while the partition pass moves rows out of the DEFAULT partition, on a real Postgres
// (PGlite runs one transaction at a time, so there the two cannot meet). CI once saw the minute rollups
// miss a day of late samples: a statement planned before the move's ATTACH committed waited for the
// DEFAULT partition's lock and then ran with the old list of partitions, reading neither copy of the
// moved rows. The rollup job is such a reader (and its watermark then passes the rows for good), and so
// are the API's queries. Here the interleaving is forced with a transaction holding the lock the move's
// ATTACH needs, and the reader must count every moved row.
import t from 'tap'
import postgres from 'postgres'
import { sql } from 'drizzle-orm'
import { openDatabase } from '../../server/db/database.ts'
import { insertTelemetry } from '../../server/ingest/telemetry-insert.ts'
import { maintainPartitions, partitionedTables, partitionName } from '../../server/telemetry/partition-maintenance.ts'
import { eventually } from '../helpers/eventually.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'
import { DAY } from './telemetry-kit.ts'

const url = process.env.DATABASE_URL
if (url === undefined || url.startsWith('pglite://')) {
  t.pass('skipped: needs a real Postgres (DATABASE_URL); PGlite runs one transaction at a time')
} else {
  t.test('a query that meets a move out of the DEFAULT partition sees every moved row', async (t) => {
    const own = await throwawayDatabase(t)
    const database = await openDatabase(own, { poolSize: 4 })
    t.teardown(() => database.close())
    const other = postgres(own, { max: 3, onnotice: () => {} })
    t.teardown(() => other.end({ timeout: 5 }))

    // Late samples of a day no partition covers: they land in telemetry_default.
    const day = Math.floor(Date.now() / DAY) * DAY - 20 * DAY
    const rows = Array.from({ length: 40 }, (_, i) => ({ deviceId: 'dev-late', ts: new Date(day + 3_600_000 + i * 29_000), seq: i, rsrp: -80 - (i % 7) }))
    await database.rows(insertTelemetry(rows))
    const [{ part }] = await database.rows<{ part: string }>(sql`select distinct tableoid::regclass::text as part from telemetry`)
    t.equal(part, 'telemetry_default', 'the late samples are in the DEFAULT partition')

    // Another transaction holds the raw table against ATTACH, so the move cannot finish.
    const connection = await other.reserve()
    await connection.unsafe('begin')
    await connection.unsafe('lock table telemetry in share update exclusive mode')
    const raw = partitionedTables({ telemetryDays: 0, rollupDays: 0 }).filter((p) => p.table === 'telemetry')
    const move = maintainPartitions(database, raw)
    await eventually('the move to wait', async () => await waitingBackends(other) >= 1)
    const counted = database.rows<{ n: number }>(sql`select count(*)::int as n from telemetry where device_id = 'dev-late'`)
    await eventually('the reader to wait too', async () => await waitingBackends(other) >= 2)
    await connection.unsafe('commit')
    connection.release()

    const report = await move
    t.same(report.created, [partitionName('telemetry', day, 'day')], 'the pass made the late day\'s partition')
    t.equal(report.moved, 40, 'and moved the 40 samples into it')
    t.equal((await counted)[0].n, 40, 'the query that waited for the move counts all 40 samples')
    const [{ where }] = await database.rows<{ where: string }>(sql`select distinct tableoid::regclass::text as where from telemetry`)
    t.equal(where, partitionName('telemetry', day, 'day'), 'which are in their day\'s partition now')
  })
}

/** Backends of this database waiting for a lock. */
async function waitingBackends (client: postgres.Sql): Promise<number> {
  const [{ n }] = await client`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
  return n as number
}
