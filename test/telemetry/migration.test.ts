// Issue 14 item 5: migration 0012 turns an existing telemetry table into a partitioned one and keeps
// every row, each in its day's partition; the rollups then count them all.
import t from 'tap'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import { migrationsFolder, openDatabase } from '../../server/db/database.ts'
import { partitionName } from '../../server/telemetry/partition-maintenance.ts'
import { rollUpAll } from '../../server/telemetry/rollup-job.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'
import { DAY } from './telemetry-kit.ts'

/** The committed migrations before 0012, as a folder of their own. */
function migrationsBefore12 (dir: string): string {
  const folder = join(dir, 'migrations')
  mkdirSync(join(folder, 'meta'), { recursive: true })
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8'))
  journal.entries = journal.entries.filter((e: { idx: number }) => e.idx < 12)
  for (const e of journal.entries) copyFileSync(join(migrationsFolder, e.tag + '.sql'), join(folder, e.tag + '.sql'))
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify(journal))
  return folder
}

t.test('migration 0012 keeps the rows of an existing telemetry table, each in its day', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-migration-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const folder = migrationsBefore12(dir)
  const server = process.env.DATABASE_URL !== undefined && !process.env.DATABASE_URL.startsWith('pglite://')
  const url = server ? await throwawayDatabase(t) : `pglite://${join(dir, 'db')}`
  const days = [Date.UTC(2016, 1, 29, 12), Date.now() - 40 * DAY, Date.now() - DAY, Date.now()]
  const insert = `insert into telemetry (device_id, ts, seq, rsrp, bytes_up) select 'dev-' || (n % 3), to_timestamp(d / 1000.0) + n * interval '1 minute', n, -80 - n % 20, n * 100
    from unnest(array[${days.join(',')}]::float8[]) as d, generate_series(1, 50) n`
  if (server) {
    const client = postgres(url, { max: 1, onnotice: () => {} })
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder: folder })
    await client.unsafe(insert)
    await client.end()
  } else {
    const client = new PGlite(join(dir, 'db'))
    await migratePglite(drizzlePglite({ client }), { migrationsFolder: folder })
    await client.exec(insert)
    await client.close()
  }

  const database = await openDatabase(url)
  t.teardown(() => database.close())
  const [{ kind }] = await database.rows<{ kind: string }>(sql`select relkind::text as kind from pg_class where oid = 'telemetry'::regclass`)
  t.equal(kind, 'p', 'telemetry is a partitioned table')
  const rows = await database.rows<{ p: string, n: number }>(sql`select tableoid::regclass::text as p, count(*)::int as n from telemetry group by 1 order by 1`)
  const expected = new Map<string, number>()
  for (const d of days) {
    for (let n = 1; n <= 50; n++) {
      const name = partitionName('telemetry', Math.floor((d + n * 60_000) / DAY) * DAY, 'day')
      expected.set(name, (expected.get(name) ?? 0) + 1)
    }
  }
  t.same(rows, [...expected].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([p, n]) => ({ p, n })), 'every row kept, in its day\'s partition (2016 too)')
  t.equal(await rollUpAll(database, { batchRows: 70, marginMs: 0 }), 200, 'the rollup job counts every kept row, in several runs')
  const [{ minutes, hours }] = await database.rows<{ minutes: number, hours: number }>(sql`
    select (select sum(samples)::int from telemetry_1m) as minutes, (select sum(samples)::int from telemetry_1h) as hours`)
  t.same({ minutes, hours }, { minutes: 200, hours: 200 })
  const [{ stray }] = await database.rows<{ stray: number }>(sql`select (select count(*) from telemetry_1m_default)::int + (select count(*) from telemetry_1h_default)::int as stray`)
  t.equal(stray, 0, 'the rollups of the moved rows have their partitions too')
})
