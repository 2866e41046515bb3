import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { bytea, createdAt, timestamptz, updatedAt } from './columns.ts'
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

/** Client certificates the hub's device CA issued to site gateways (subject `OU=gateway, CN=<gateway
 * id>`, SAN `urn:euicc-hub:gateway:<gateway id>`; docs/identity.md). The columns are those of
 * `device_certificates`, with the gateway in place of the device; the rows go with their gateway. */
export const gatewayCertificates = pgTable('gateway_certificates', {
  /** The certificate's serial number, hex. */
  serial: text().primaryKey(),
  gatewayId: text().notNull().references(() => gateways.id, { onDelete: 'cascade' }),
  tenantId: uuid().notNull().references(() => tenants.id),
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: text().notNull().unique(),
  keyType: text({ enum: ['ec-p256', 'rsa-2048'] }).notNull(),
  der: bytea().notNull(),
  notAfter: timestamptz().notNull(),
  revokedAt: timestamptz(),
  createdAt: createdAt()
}, (table) => [index().on(table.gatewayId)])

export type GatewayCertificateRow = typeof gatewayCertificates.$inferSelect
