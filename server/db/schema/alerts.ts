import { sql } from 'drizzle-orm'
import { boolean, doublePrecision, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { createdAt, timestamptz, updatedAt } from './columns.ts'
import { tenants } from './tenants.ts'

export const alertKinds = ['offline', 'metric', 'notification-rejected', 'command-failed', 'data-usage'] as const
export type AlertKind = typeof alertKinds[number]
export const alertSeverities = ['info', 'warning', 'critical'] as const
export type AlertSeverity = typeof alertSeverities[number]
export const alertStates = ['open', 'acknowledged', 'resolved'] as const
export type AlertState = typeof alertStates[number]
export const alertOps = ['<', '>'] as const
export type AlertOp = typeof alertOps[number]

/** Which devices a rule watches (every field given must match; none: every device of the tenant). */
export interface AlertFilter { tag?: string, operator?: string, site?: string }

/** A tenant's alert rule (docs/alerts.md). `metric`, `op` and `threshold` are for `metric` rules;
 * `threshold` is a percent of the plan's quota for `data-usage` rules. */
export const alertRules = pgTable('alert_rules', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull().references(() => tenants.id),
  name: text().notNull(),
  kind: text({ enum: alertKinds }).notNull(),
  metric: text(),
  op: text({ enum: alertOps }),
  threshold: doublePrecision(),
  forSeconds: integer().notNull().default(0),
  severity: text({ enum: alertSeverities }).notNull(),
  filter: jsonb().$type<AlertFilter>().notNull().default({}),
  enabled: boolean().notNull().default(true),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (table) => [index().on(table.tenantId, table.createdAt)])

/** One alert per (rule, device) while its condition holds: the partial unique index is what keeps a
 * second one from being raised, by any process, until the first is resolved. Rows outlive their rule
 * (history), so `ruleId` is not a foreign key and the rule's name and kind are copied. */
export const alerts = pgTable('alerts', {
  id: uuid().primaryKey(),
  tenantId: uuid().notNull(),
  ruleId: uuid().notNull(),
  ruleName: text().notNull(),
  kind: text({ enum: alertKinds }).notNull(),
  severity: text({ enum: alertSeverities }).notNull(),
  deviceId: text().notNull(),
  state: text({ enum: alertStates }).notNull().default('open'),
  /** The observed value when raised (metric value, usage percent, seconds offline), if any. */
  value: doublePrecision(),
  message: text().notNull(),
  raisedAt: timestamptz().notNull().defaultNow(),
  acknowledgedAt: timestamptz(),
  /** `user:<id>` or `api-key:<id>`. */
  acknowledgedBy: text(),
  resolvedAt: timestamptz(),
  /** Why it resolved: `cleared`, `rule-disabled`, `rule-deleted`, `device-deleted`. */
  resolution: text(),
  updatedAt: updatedAt()
}, (table) => [
  uniqueIndex('alerts_one_active').on(table.ruleId, table.deviceId).where(sql`state in ('open', 'acknowledged')`),
  index().on(table.tenantId, table.raisedAt, table.id),
  index('alerts_active_by_device').on(table.deviceId).where(sql`state in ('open', 'acknowledged')`)
])

export type AlertRuleRow = typeof alertRules.$inferSelect
export type AlertRow = typeof alerts.$inferSelect
