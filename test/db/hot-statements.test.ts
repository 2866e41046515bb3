// The hub's statements run prepared from their second execution on (one round trip instead of two), on
// a real Postgres, and are planned with their own parameters all the same.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { openDatabase } from '../../server/db/database.ts'
import { HotStatements } from '../../server/db/hot-statements.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'

t.test('a text is prepared from its second execution on, up to the limit', async (t) => {
  const hot = new HotStatements(2, 2)
  t.equal(hot.prepare('select $1'), false, 'the first execution runs unprepared')
  t.equal(hot.prepare('select $1'), true, 'the second prepared')
  t.equal(hot.prepare('select $1'), true, 'and every later one')
  t.equal(hot.prepare('select $2'), false)
  t.equal(hot.prepare('select $2'), true)
  t.equal(hot.size, 2)
  t.equal(hot.prepare('select $3'), false)
  t.equal(hot.prepare('select $3'), false, 'past the limit a new text stays unprepared')
  t.equal(hot.prepare('select $1'), true, 'while the prepared ones stay so')
})

const url = process.env.DATABASE_URL
if (url === undefined || url.startsWith('pglite://')) {
  t.pass('skipped: prepared statements on a real Postgres need DATABASE_URL (PGlite runs in-process)')
} else {
  t.test('repeated statements are prepared on the connection, in and out of transactions', async (t) => {
    const own = await throwawayDatabase(t)
    // Two connections (the migration holds one while it takes the other); the statements a session
    // prepared are its own, so both sessions are asked at once (the second query finds the first busy).
    const database = await openDatabase(own, { poolSize: 2 })
    t.teardown(() => database.close())
    const ask = async (): Promise<string[]> => (await database.rows<{ statement: string }>(sql`select statement from pg_prepared_statements`)).map((r) => r.statement)
    const prepared = async (): Promise<string[]> => (await Promise.all([ask(), ask()])).flat()

    const twice = (n: number) => sql`select ${n}::int + 1 as x`
    t.same(await database.rows(twice(1)), [{ x: 2 }])
    t.notOk((await prepared()).some((s) => s.includes('::int + 1')), 'once: not prepared')
    t.same(await database.rows(twice(41)), [{ x: 42 }], 'the second execution answers with its own parameter')
    t.ok((await prepared()).some((s) => s.includes('::int + 1')), 'twice: prepared on the connection')
    t.same(await database.rows(twice(9)), [{ x: 10 }], 'and the prepared statement binds each execution\'s parameter')

    // In a transaction (one session throughout), and in a savepoint in it.
    await database.db.transaction(async (tx) => {
      for (let i = 0; i < 2; i++) await tx.execute(sql`select ${i}::int * 3 as y`)
      const here = async (): Promise<string[]> => (await tx.execute(sql`select statement from pg_prepared_statements`) as unknown as Array<{ statement: string }>).map((r) => r.statement)
      t.ok((await here()).some((s) => s.includes('::int * 3')), 'a statement repeated in a transaction is prepared on its session')
      await tx.transaction(async (inner) => {
        for (let i = 0; i < 2; i++) await inner.execute(sql`select ${i}::int - 7 as z`)
      })
      t.ok((await here()).some((s) => s.includes('::int - 7')), 'and one repeated in a savepoint')
    })

    const [{ mode }] = await database.rows<{ mode: string }>(sql`select current_setting('plan_cache_mode') as mode`)
    t.equal(mode, 'force_custom_plan', 'every execution is planned with its parameters')
  })
}
