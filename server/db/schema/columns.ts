import { customType, timestamp } from 'drizzle-orm/pg-core'

/** Shared column helpers: every timestamp is timestamptz, read as a Date. */
export const timestamptz = (name?: string) =>
  name === undefined ? timestamp({ withTimezone: true, mode: 'date' }) : timestamp(name, { withTimezone: true, mode: 'date' })
export const createdAt = () => timestamptz().notNull().defaultNow()
export const updatedAt = () => timestamptz().notNull().defaultNow()

/** Raw bytes (DER, payloads). */
export const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' })
