import { customType, timestamp } from 'drizzle-orm/pg-core'

/** Shared column helpers: every timestamp is timestamptz, read as a Date. Millisecond precision, as a
 * JavaScript Date has: a keyset cursor made from a row's time then names exactly that time, so rows that
 * share the boundary row's millisecond (all the rows of one statement share `now()`) are not skipped. */
export const timestamptz = (name?: string) =>
  name === undefined ? timestamp({ withTimezone: true, mode: 'date', precision: 3 }) : timestamp(name, { withTimezone: true, mode: 'date', precision: 3 })
export const createdAt = () => timestamptz().notNull().defaultNow()
export const updatedAt = () => timestamptz().notNull().defaultNow()

/** Raw bytes (DER, payloads). */
export const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' })
