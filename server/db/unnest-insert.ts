import { sql, type SQL } from 'drizzle-orm'

export interface UnnestColumn<Row> {
  /** Column name in SQL (snake_case). */
  name: string
  /** Element SQL type: `text`, `bigint`, `uuid`, `timestamptz`, `bytea`, `jsonb`… */
  type: string
  value (row: Row): unknown
}

/** Both drivers bind these element types through text: postgres.js cannot bind timestamptz[] or
 * bytea[] arrays, and PGlite needs no special case. */
const VIA_TEXT: Record<string, (value: unknown) => string> = {
  timestamptz: (v) => (v as Date).toISOString(),
  bytea: (v) => '\\x' + Buffer.from(v as Uint8Array).toString('hex'),
  jsonb: (v) => JSON.stringify(v)
}

/** `INSERT INTO table (…) SELECT * FROM unnest($1::t1[], $2::t2[], …)`: a whole batch in one statement
 * with one parameter per column, whatever the number of rows. `tail` follows (ON CONFLICT, RETURNING). */
export function unnestInsert<Row> (table: string, columns: ReadonlyArray<UnnestColumn<Row>>, rows: readonly Row[], tail: SQL = sql``): SQL {
  const arrays = columns.map((column) => {
    const toText = VIA_TEXT[column.type]
    const values = rows.map((row) => {
      const value = column.value(row)
      if (value === null || value === undefined) return null
      return toText === undefined ? value : toText(value)
    })
    const cast = toText === undefined ? `${column.type}[]` : `text[]::${column.type}[]`
    return sql`${sql.param(values)}::${sql.raw(cast)}`
  })
  const names = sql.raw(columns.map((c) => `"${c.name}"`).join(', '))
  return sql`insert into ${sql.identifier(table)} (${names}) select * from unnest(${sql.join(arrays, sql`, `)}) ${tail}`
}
