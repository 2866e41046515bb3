// unnestInsert binds a whole batch with one parameter per column; a bytea column's values travel packed
// in one parameter and come back byte for byte, nulls and empty values included, on both drivers.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { openDatabase } from '../../server/db/database.ts'
import { resultRows } from '../../server/db/sql-values.ts'
import { unnestInsert, type UnnestColumn } from '../../server/db/unnest-insert.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'

interface Row { id: number, label: string | null, body: Buffer | null, extra: Buffer | null, at: Date }

const columns: Array<UnnestColumn<Row>> = [
  { name: 'id', type: 'bigint', value: (r) => r.id },
  { name: 'body', type: 'bytea', value: (r) => r.body },
  { name: 'label', type: 'text', value: (r) => r.label },
  { name: 'extra', type: 'bytea', value: (r) => r.extra },
  { name: 'at', type: 'timestamptz', value: (r) => r.at }
]

t.test('bytea columns come back byte for byte, with the other columns in their rows', async (t) => {
  const database = await openDatabase(await throwawayDatabase(t), { poolSize: 2 })
  t.teardown(() => database.close())
  await database.rows(sql`create table unnest_check (id bigint primary key, body bytea, label text, extra bytea, at timestamptz)`)
  const rows: Row[] = Array.from({ length: 300 }, (_, i) => ({
    id: i,
    label: i % 7 === 0 ? null : `row "${i}" \\ {${i}}`,
    body: i % 5 === 0 ? null : i % 11 === 0 ? Buffer.alloc(0) : randomBytes(1 + (i * 37) % 900),
    extra: i % 3 === 0 ? randomBytes(i % 4) : null,
    at: new Date(Date.UTC(2026, 0, 1) + i * 1000)
  }))
  const inserted = resultRows<{ id: string }>(await database.db.execute(unnestInsert('unnest_check', columns, rows, sql`returning id`)))
  t.equal(inserted.length, rows.length, 'every row is inserted')
  const back = await database.rows<{ id: string, body: Uint8Array | null, label: string | null, extra: Uint8Array | null, at: string }>(sql`
    select id::text, body, label, extra, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as at from unnest_check order by unnest_check.id`)
  const hex = (b: Uint8Array | null): string | null => b === null ? null : Buffer.from(b).toString('hex')
  let same = 0
  for (const [i, row] of rows.entries()) {
    const got = back[i]
    if (Number(got.id) === row.id && hex(got.body) === hex(row.body) && hex(got.extra) === hex(row.extra) && got.label === row.label &&
      got.at === row.at.toISOString().slice(0, 19)) same++
    else t.fail(`row ${row.id} reads back as ${JSON.stringify({ ...got, body: hex(got.body)?.slice(0, 40), extra: hex(got.extra) })}`)
  }
  t.equal(same, rows.length, 'each row reads back as written')
  t.ok(back.some((r) => r.body === null) && back.some((r) => r.body !== null && r.body.byteLength === 0), 'null and empty values stay apart')
})
