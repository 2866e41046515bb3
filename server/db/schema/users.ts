import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

export const userRoles = ['admin', 'operator', 'technician', 'viewer'] as const
export type UserRole = typeof userRoles[number]

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
