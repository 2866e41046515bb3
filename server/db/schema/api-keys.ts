import { index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz } from './columns.ts'
import { tenants } from './tenants.ts'
import { userRoles } from './users.ts'

/** Integration keys: scoped to a tenant and a role, shown once, kept as a SHA-256 hash, revocable. */
export const apiKeys = pgTable('api_keys', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  name: text().notNull(),
  role: text({ enum: userRoles }).notNull(),
  keyHash: text().notNull(),
  createdBy: uuid(),
  createdAt: createdAt(),
  lastUsedAt: timestamptz(),
  revokedAt: timestamptz()
}, (table) => [index().on(table.tenantId, table.createdAt)])

export type ApiKeyRow = typeof apiKeys.$inferSelect
