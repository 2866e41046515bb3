import { sql } from 'drizzle-orm'
import { bigint, bigserial, boolean, index, jsonb, pgTable, primaryKey, text, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { bytea, createdAt, timestamptz } from './columns.ts'
import { tenants } from './tenants.ts'

/** CI certificates trusted for eUICC verification, managed through the API (those from
 * HUB_EUICC_TRUST_DIR are read at start and kept in memory). A platform anchor (`tenantId` null) is
 * trusted for every tenant; a tenant's anchor only for the devices of that tenant. */
export const trustAnchors = pgTable('trust_anchors', {
  id: uuid().primaryKey().defaultRandom(),
  tenantId: uuid().references(() => tenants.id),
  subject: text().notNull(),
  /** SHA-256 of the DER, hex: one row per certificate and scope. */
  fingerprint: text().notNull(),
  der: bytea().notNull(),
  notAfter: timestamptz().notNull(),
  createdBy: uuid(),
  createdAt: createdAt()
}, (table) => [unique('trust_anchors_scope_fingerprint').on(table.tenantId, table.fingerprint).nullsNotDistinct()])

/** The eUICC certificate the hub holds for each EID: registered with the device or learned from a
 * verified notification. Installation results (which carry no certificate) are verified with it. */
export const euiccCertificates = pgTable('euicc_certificates', {
  eid: text().primaryKey(),
  euiccDer: bytea().notNull(),
  eumDer: bytea(),
  source: text({ enum: ['registered', 'notification'] }).notNull(),
  updatedAt: createdAt()
})

export const notificationStatuses = ['accepted', 'rejected'] as const

/** Notifications received over ES9+ and committed before the 204, waiting for the pipeline; a row
 * leaves in the transaction that records its outcome (a restart processes what is left). */
export const notificationInbox = pgTable('notification_inbox', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  der: bytea().notNull(),
  receivedAt: createdAt()
})

/** Every PendingNotification received, verified or rejected, stored once: unique by the SHA-256 of its
 * DER, and an accepted one unique by (EID, seqNumber). */
export const notifications = pgTable('notifications', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  tenantId: uuid().references(() => tenants.id),
  deviceId: text(),
  eid: text(),
  seqNumber: bigint({ mode: 'number' }),
  kind: text({ enum: ['other-signed', 'installation-result'] }),
  operation: text(),
  iccid: text(),
  notificationAddress: text(),
  /** For installation results: `{kind: 'success'|'error', errorReason?, bppCommandId?, transactionId}`. */
  result: jsonb(),
  status: text({ enum: notificationStatuses }).notNull(),
  reason: text(),
  detail: text(),
  sha256: text().notNull().unique(),
  der: bytea().notNull(),
  source: text({ enum: ['mqtt', 'es9plus'] }).notNull(),
  receivedAt: createdAt(),
  verifiedAt: timestamptz().notNull().defaultNow()
}, (table) => [
  uniqueIndex('notifications_eid_seq_accepted').on(table.eid, table.seqNumber).where(sql`status = 'accepted'`),
  index().on(table.tenantId, table.receivedAt),
  index().on(table.deviceId, table.receivedAt)
])

export const profileStates = ['enabled', 'disabled', 'deleted'] as const
export type ProfileState = typeof profileStates[number]

/** The profile inventory: one row per (EID, ICCID). `state` follows verified notifications in seqNumber
 * order; `reportedState` is what the device's last `inventory` report said; `conflict` names a
 * disagreement between the two. */
export const profiles = pgTable('profiles', {
  eid: text().notNull(),
  iccid: text().notNull(),
  tenantId: uuid().references(() => tenants.id),
  deviceId: text(),
  state: text({ enum: profileStates }).notNull(),
  /** seqNumber of the notification that set `state` (null when only an inventory report set it). */
  seqNumber: bigint({ mode: 'number' }),
  cause: text().notNull(),
  changedAt: timestamptz().notNull().defaultNow(),
  reportedState: text({ enum: ['enabled', 'disabled', 'absent'] }),
  reportedAt: timestamptz(),
  conflict: text(),
  name: text(),
  spn: text(),
  operatorId: text(),
  fallback: boolean().notNull().default(false)
}, (table) => [primaryKey({ columns: [table.eid, table.iccid] }), index().on(table.deviceId)])

/** Mobile operators, known by MCC/MNC and ICCID issuer prefix. */
export const operators = pgTable('operators', {
  id: text().primaryKey(),
  name: text().notNull(),
  country: text().notNull(),
  mcc: text().notNull(),
  mnc: text().notNull(),
  iccidPrefix: text().notNull(),
  createdAt: createdAt()
}, (table) => [uniqueIndex().on(table.mcc, table.mnc)])

export type NotificationRow = typeof notifications.$inferSelect
export type ProfileRow = typeof profiles.$inferSelect
export type OperatorRow = typeof operators.$inferSelect
