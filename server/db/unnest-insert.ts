import { sql, type SQL } from 'drizzle-orm'

export interface UnnestColumn<Row> {
  /** Column name in SQL (snake_case). */
  name: string
  /** Element SQL type: `text`, `bigint`, `uuid`, `timestamptz`, `bytea`, `jsonb`… */
  type: string
  value (row: Row): unknown
}

/** Both drivers bind these element types through text: postgres.js cannot bind timestamptz[] arrays, and
 * PGlite needs no special case. */
const VIA_TEXT: Record<string, (value: unknown) => string> = {
  timestamptz: (v) => (v as Date).toISOString(),
  jsonb: (v) => JSON.stringify(v)
}

/** A bytea column's values, packed: every value's bytes one after the other, sent once as base64 text and
 * decoded once by the server, and each row's 1-based start and length (null for a null value). Bound as
 * text (a `bytea[]` of `\x…` hex strings), a batch of 500 notifications was a megabyte of array literal
 * that both drivers escape and the server parses character by character; bound as one bytea parameter,
 * PGlite hex-encodes it one byte at a time in JavaScript. Each row takes its slice with `substring`. */
function packBytes (values: ReadonlyArray<Uint8Array | null>): { packed: Buffer, starts: Array<number | null>, lengths: Array<number | null> } {
  const present = values.filter((v): v is Uint8Array => v !== null)
  const packed = Buffer.concat(present)
  const starts: Array<number | null> = []
  const lengths: Array<number | null> = []
  let at = 1
  for (const value of values) {
    starts.push(value === null ? null : at)
    lengths.push(value === null ? null : value.byteLength)
    if (value !== null) at += value.byteLength
  }
  return { packed, starts, lengths }
}

/** `INSERT INTO table (…) SELECT … FROM unnest($1::t1[], $2::t2[], …)`: a whole batch in one statement
 * with one parameter per column (three for a bytea column: see packBytes), whatever the number of rows.
 * `tail` follows (ON CONFLICT, RETURNING). */
export function unnestInsert<Row> (table: string, columns: ReadonlyArray<UnnestColumn<Row>>, rows: readonly Row[], tail: SQL = sql``): SQL {
  const arrays: SQL[] = []
  const aliases: string[] = []
  const selected: SQL[] = []
  const decoded: SQL[] = []
  for (const [i, column] of columns.entries()) {
    const raw = rows.map((row) => {
      const value = column.value(row)
      return value === null || value === undefined ? null : value
    })
    if (column.type === 'bytea') {
      const { packed, starts, lengths } = packBytes(raw as Array<Uint8Array | null>)
      decoded.push(sql`decode(${packed.toString('base64')}::text, 'base64') as ${sql.raw(`b${i}`)}`)
      arrays.push(sql`${sql.param(starts)}::int[]`, sql`${sql.param(lengths)}::int[]`)
      aliases.push(`s${i}`, `n${i}`)
      selected.push(sql.raw(`substring(packed.b${i} from u.s${i} for u.n${i})`))
      continue
    }
    const toText = VIA_TEXT[column.type]
    const values = toText === undefined ? raw : raw.map((v) => v === null ? null : toText(v))
    const cast = toText === undefined ? `${column.type}[]` : `text[]::${column.type}[]`
    arrays.push(sql`${sql.param(values)}::${sql.raw(cast)}`)
    aliases.push(`c${i}`)
    selected.push(sql.raw(`u.c${i}`))
  }
  const names = sql.raw(columns.map((c) => `"${c.name}"`).join(', '))
  const unnested = sql`unnest(${sql.join(arrays, sql`, `)}) as u(${sql.raw(aliases.join(', '))})`
  const insert = sql`insert into ${sql.identifier(table)} (${names}) select ${sql.join(selected, sql`, `)}`
  // The packed values are decoded once, in a CTE of one row, not once per row.
  if (decoded.length === 0) return sql`${insert} from ${unnested} ${tail}`
  return sql`with packed as materialized (select ${sql.join(decoded, sql`, `)}) ${insert} from ${unnested}, packed ${tail}`
}
