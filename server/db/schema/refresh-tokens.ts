import { index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz } from './columns.ts'
import { users } from './users.ts'

/** Refresh tokens, one row per issued token. A login starts a family (a session); each refresh marks its
 * token used and issues the next one in the same family. Presenting a used token again revokes the whole
 * family. Only the SHA-256 of the token's secret part is kept. */
export const refreshTokens = pgTable('refresh_tokens', {
  id: uuid().primaryKey(),
  familyId: uuid().notNull(),
  userId: uuid().notNull().references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text().notNull(),
  expiresAt: timestamptz().notNull(),
  /** When the family started (the login): a family never outlives its absolute lifetime. */
  familyCreatedAt: timestamptz().notNull(),
  usedAt: timestamptz(),
  revokedAt: timestamptz(),
  createdAt: createdAt()
}, (table) => [index().on(table.familyId), index().on(table.userId)])

export type RefreshTokenRow = typeof refreshTokens.$inferSelect
