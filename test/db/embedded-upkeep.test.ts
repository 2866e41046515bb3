// The embedded database's upkeep (server/db/embedded-upkeep.ts): PGlite is Postgres in single-user mode,
// where autovacuum never runs, so the hub vacuums and analyzes its tables itself, at autovacuum's
// thresholds. Both passes of the suite run these on PGlite: on Postgres the server does this itself.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../../server/db/database.ts'
import { dueTables, upkeepOnce } from '../../server/db/embedded-upkeep.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub } from '../helpers/test-hub.ts'

async function withDevices (database: Database, count: number): Promise<void> {
  const [{ id }] = await database.rows<{ id: string }>(sql`insert into tenants (name) values ('upkeep') returning id`)
  await database.rows(sql`insert into devices (id, tenant_id, name, secret_hash, tags) select 'up-' || g, ${id}, 'meter ' || g, 'x', array['zone-' || (g % 20)]
    from generate_series(1, ${count}) g`)
}

const statistics = async (database: Database, table: string): Promise<number> =>
  (await database.rows<{ n: number }>(sql`select count(*)::int as n from pg_stats where tablename = ${table}`))[0].n

/** The table counters as of now: a backend sends its pending counts at most once a second unless told to. */
async function flushCounters (database: Database): Promise<void> {
  await database.rows(sql`select pg_stat_force_next_flush()`)
  await database.rows(sql`select 1`)
}

async function dead (database: Database, table: string): Promise<number> {
  await flushCounters(database)
  return (await database.rows<{ n: number }>(sql`select n_dead_tup::int as n from pg_stat_user_tables where relname = ${table}`))[0].n
}

t.test('a pass vacuums the tables past the dead-row threshold and analyzes those past the change threshold', async (t) => {
  const database = await openDatabase('pglite://memory')
  t.teardown(() => database.close())
  await withDevices(database, 3000)
  await database.rows(sql`update devices set last_seen_at = now() where id like 'up-1%'`)
  t.equal(await statistics(database, 'devices'), 0, 'PGlite has no statistics of its own accord')
  const left = await dead(database, 'devices')
  t.ok(left > 650, `and the updates left dead rows (${left}) past the threshold (50 + 20 % of 3,000)`)
  await flushCounters(database)
  const due = await dueTables(database)
  t.match(due.find((s) => s.table === 'public.devices'), { vacuum: true, analyze: true }, 'devices is due for both')
  t.notOk(due.some((s) => s.table === 'public.telemetry'), 'a partitioned parent, which holds no rows, is never due')
  const done = await upkeepOnce(database)
  t.same(done, due, 'the pass did what was due')
  t.ok(await statistics(database, 'devices') > 0, 'devices has statistics')
  t.equal(await dead(database, 'devices'), 0, 'and no dead rows')
  await flushCounters(database)
  t.notOk((await dueTables(database)).some((s) => s.table === 'public.devices'), 'and is not due again')
})

t.test('after a restart, a table that holds rows but was never analyzed is due (PGlite forgets its counters)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-upkeep-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const first = await openDatabase(`pglite://${dir}`)
  await withDevices(first, 3000)
  await first.close()
  const database = await openDatabase(`pglite://${dir}`)
  t.teardown(() => database.close())
  await flushCounters(database)
  const [{ changed }] = await database.rows<{ changed: number }>(sql`select n_mod_since_analyze::int as changed from pg_stat_user_tables where relname = 'devices'`)
  t.equal(changed, 0, 'the 3,000 inserts are no longer counted')
  t.match((await dueTables(database)).find((s) => s.table === 'public.devices'), { analyze: true }, 'devices is due all the same')
  await upkeepOnce(database)
  t.ok(await statistics(database, 'devices') > 0, 'and is analyzed')
  t.notOk((await dueTables(database)).some((s) => s.table === 'public.devices'), 'then not due again')
})

t.test('a hub on PGlite runs the upkeep on its own', async (t) => {
  const hub = await startTestHub(t, { env: { DATABASE_URL: 'pglite://memory' }, upkeep: { upkeepMs: 100 } })
  await withDevices(hub.database, 500)
  await eventually('the devices table to be analyzed', async () => await statistics(hub.database, 'devices') > 0)
  t.pass('analyzed without being asked')
})
