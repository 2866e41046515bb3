import { pgTable, text } from 'drizzle-orm/pg-core'
import { createdAt } from './columns.ts'

/** Hub-wide settings created on first start (the JWT signing secret). */
export const settings = pgTable('settings', {
  key: text().primaryKey(),
  value: text().notNull(),
  createdAt: createdAt()
})
