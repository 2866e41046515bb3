import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, updatedAt } from './columns.ts'
import { userRoles, type UserRole } from '../../../protocol/api-schemas.ts'
import { tenants } from './tenants.ts'

// The role list is the API's (protocol/api-schemas.ts), so that the column and the schemas agree.
export { userRoles, type UserRole }

/** Dashboard and API users. Tenants, roles and the platform-admin flag are here from the start so the
 * identity issue (refresh tokens, TOTP, API keys) adds tables instead of reshaping this one. */
export const users = pgTable('users', {
  id: uuid().primaryKey().defaultRandom(),
  tenantId: uuid().notNull().references(() => tenants.id),
  email: text().notNull().unique(),
  passwordHash: text().notNull(),
  role: text({ enum: userRoles }).notNull(),
  platformAdmin: boolean().notNull().default(false),
  disabled: boolean().notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (table) => [index().on(table.tenantId)])

export type User = typeof users.$inferSelect
