import { bigint, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz } from './columns.ts'
import { users } from './users.ts'

/** A user's TOTP (RFC 6238) secret. `confirmedAt` null: enrolment started, not yet required at login.
 * `lastStep` is the last accepted time step, so a code is usable once. Recovery codes are SHA-256 hashes,
 * each removed when used. */
export const totpSecrets = pgTable('totp_secrets', {
  userId: uuid().primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  secret: text().notNull(),
  confirmedAt: timestamptz(),
  lastStep: bigint({ mode: 'number' }).notNull().default(0),
  recoveryCodes: text().array().notNull().default([]),
  createdAt: createdAt()
})

export type TotpRow = typeof totpSecrets.$inferSelect
