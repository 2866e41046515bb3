import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { createdAt, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

/** A site gateway (a field site's Mosquitto bridged to the hub, mosquitto.conf): its id is its MQTT
 * client id and username; it may act only for the devices of its tenant at its `site`. */
export const gateways = pgTable('gateways', {
  id: text().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  name: text().notNull(),
  site: text().notNull(),
  /** SHA-256 (hex) of the gateway secret, shown once at creation (as device secrets are). */
  secretHash: text().notNull(),
  disabled: boolean().notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (table) => [index().on(table.tenantId, table.site)])

export type GatewayRow = typeof gateways.$inferSelect
