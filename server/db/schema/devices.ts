import { index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

export const esimAgents = ['lpa', 'ipa'] as const

/** A cellular device with its eUICC. Its id is its MQTT client id and username. */
export const devices = pgTable('devices', {
  id: text().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  name: text().notNull(),
  eid: text().unique(),
  imei: text(),
  tags: text().array().notNull().default([]),
  esimAgent: text({ enum: esimAgents }).notNull().default('lpa'),
  /** SHA-256 (hex) of the device secret; the secret itself is shown once at creation and never stored. */
  secretHash: text().notNull(),
  lastSeenAt: timestamptz(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (table) => [
  index().on(table.tenantId, table.createdAt, table.id),
  index('devices_tags_idx').using('gin', table.tags)
])

export type Device = typeof devices.$inferSelect
