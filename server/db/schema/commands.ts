import { sql } from 'drizzle-orm'
import { bigint, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { bytea, createdAt, timestamptz, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

export const commandOps = ['enable', 'disable', 'delete', 'listProfiles', 'download', 'setFallback', 'unsetFallback'] as const
export type CommandOp = typeof commandOps[number]
export const commandStatuses = ['queued', 'sent', 'succeeded', 'failed', 'expired', 'cancelled'] as const
export type CommandStatus = typeof commandStatuses[number]

/** Remote profile operations (docs/operations.md). One row per command, from `queued` to its end; a
 * device has at most one command `sent` at a time (the partial unique index), which is what serializes
 * profile operations per eUICC across processes and restarts. */
export const commands = pgTable('commands', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  deviceId: text().notNull(),
  op: text({ enum: commandOps }).notNull(),
  iccid: text(),
  activationCode: text(),
  status: text({ enum: commandStatuses }).notNull().default('queued'),
  /** Who asked: `user:<id>`, `api-key:<id>` or `campaign:<id>`. */
  requestedBy: text().notNull(),
  campaignId: uuid(),
  createdAt: createdAt(),
  expiresAt: timestamptz().notNull(),
  sentAt: timestamptz(),
  finishedAt: timestamptz(),
  updatedAt: updatedAt(),
  /** SGP.32 (ipa devices): the signed EuiccPackageRequest, its counter and transaction id, fixed when the
   * command is first sent (a resend is byte-identical). */
  eid: text(),
  counterValue: integer(),
  eimTransactionId: text(),
  euiccPackageRequest: bytea(),
  /** The device's answer as received (JSON of `commands/{id}/result`), and the hub's reading of it. */
  result: jsonb(),
  errorCode: text(),
  errorMessage: text(),
  deliveries: integer().notNull().default(0)
}, (table) => [
  uniqueIndex('commands_one_in_flight').on(table.deviceId).where(sql`status = 'sent'`),
  index('commands_pending').on(table.deviceId, table.createdAt).where(sql`status in ('queued', 'sent')`),
  index('commands_expiry').on(table.expiresAt).where(sql`status in ('queued', 'sent')`),
  index().on(table.tenantId, table.deviceId, table.createdAt),
  index().on(table.campaignId, table.status)
])

/** The eIM's counterValue per eUICC (SGP.32): only goes up, ≤ 0x7FFFFF. */
export const eimCounters = pgTable('eim_counters', {
  eid: text().primaryKey(),
  counterValue: bigint({ mode: 'number' }).notNull()
})

export const campaignStatuses = ['running', 'paused', 'completed', 'cancelled'] as const
export type CampaignStatus = typeof campaignStatuses[number]

/** One operation over a set of devices, run as ordinary commands with a rate, a concurrency limit and a
 * failure threshold that pauses it. */
export const campaigns = pgTable('campaigns', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  name: text().notNull(),
  op: text({ enum: commandOps }).notNull(),
  iccid: text(),
  activationCode: text(),
  filter: jsonb().notNull(),
  ratePerMinute: integer().notNull(),
  concurrency: integer().notNull(),
  failureThreshold: integer().notNull(),
  /** Failures counted before the last resume: the threshold applies to the failures since. */
  failureBaseline: integer().notNull().default(0),
  ttlSeconds: integer().notNull(),
  status: text({ enum: campaignStatuses }).notNull().default('running'),
  pausedReason: text(),
  requestedBy: text().notNull(),
  total: integer().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  finishedAt: timestamptz()
}, (table) => [index().on(table.tenantId, table.createdAt)])

/** The devices a campaign covers, fixed at creation; `commandId` is set when its command is created. */
export const campaignTargets = pgTable('campaign_targets', {
  campaignId: uuid().notNull(),
  deviceId: text().notNull(),
  position: integer().notNull(),
  commandId: uuid()
}, (table) => [
  uniqueIndex().on(table.campaignId, table.deviceId),
  index('campaign_targets_next').on(table.campaignId, table.position).where(sql`command_id is null`)
])

export type CommandRow = typeof commands.$inferSelect
export type CampaignRow = typeof campaigns.$inferSelect
