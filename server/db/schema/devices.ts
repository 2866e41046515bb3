import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { bytea, createdAt, timestamptz, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'
import { plans } from './usage.ts'

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
  /** A disabled device may not connect; disabling it ends its open sessions. */
  disabled: boolean().notNull().default(false),
  /** The data plan whose quota the device's usage counts against (docs/alerts.md). */
  planId: uuid().references(() => plans.id, { onDelete: 'set null' }),
  /** The field site the device is at: a gateway of that site (and of the tenant) may act for it. */
  site: text(),
  lastSeenAt: timestamptz(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (table) => [
  index().on(table.tenantId, table.createdAt, table.id),
  index('devices_tags_idx').using('gin', table.tags),
  index().on(table.tenantId, table.site),
  // The device list's `q` (ILIKE '%…%' on name, id, EID and IMEI): trigram indexes (pg_trgm, migration 0013).
  index('devices_name_trgm_idx').using('gin', table.name.op('gin_trgm_ops')),
  index('devices_id_trgm_idx').using('gin', table.id.op('gin_trgm_ops')),
  index('devices_eid_trgm_idx').using('gin', table.eid.op('gin_trgm_ops')),
  index('devices_imei_trgm_idx').using('gin', table.imei.op('gin_trgm_ops'))
])

/** Client certificates the hub's device CA issued (subject CN = device id). A revoked one is refused at
 * the next TLS handshake. */
export const deviceCertificates = pgTable('device_certificates', {
  /** The certificate's serial number, hex. */
  serial: text().primaryKey(),
  deviceId: text().notNull().references(() => devices.id, { onDelete: 'cascade' }),
  tenantId: uuid().notNull().references(() => tenants.id),
  /** SHA-256 of the certificate's DER, hex. */
  fingerprint: text().notNull().unique(),
  keyType: text({ enum: ['ec-p256', 'rsa-2048'] }).notNull(),
  der: bytea().notNull(),
  notAfter: timestamptz().notNull(),
  revokedAt: timestamptz(),
  createdAt: createdAt()
}, (table) => [index().on(table.deviceId)])

export type Device = typeof devices.$inferSelect
export type DeviceCertificateRow = typeof deviceCertificates.$inferSelect
