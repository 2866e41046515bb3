import { sql, type SQL } from 'drizzle-orm'

/** A text[] parameter, bound as one array value (drizzle would otherwise expand a JS array into a list). */
export function textArray (values: readonly string[]): SQL {
  return sql`${sql.param(values)}::text[]`
}

/** A bigint[] parameter, bound as one array value. */
export function bigintArray (values: readonly number[]): SQL {
  return sql`${sql.param(values)}::bigint[]`
}

/** The rows of a raw `execute()` result, whichever driver produced it (postgres.js returns an array,
 * PGlite an object with `rows`). */
export function resultRows<T> (result: unknown): T[] {
  return Array.isArray(result) ? result as T[] : (result as { rows: T[] }).rows
}
