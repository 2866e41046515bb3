import { randomUUID } from 'node:crypto'
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import type { AlertEventData, HubEvent } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { Database } from '../db/database.ts'
import { alertRules, alerts, type AlertRow, type AlertRuleRow, type AlertSeverity, type AlertState } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'
import type { HubMetrics } from '../metrics.ts'
import { decodeCursor, encodeCursor } from '../repositories/cursor.ts'
import type { AlertRuleInput } from './alert-rules.ts'

/** An alert to raise: the evaluator found the rule's condition holding for the device. */
export interface RaiseCandidate { rule: AlertRuleRow, deviceId: string, value: number | null, message: string }
export interface AlertKey { ruleId: string, deviceId: string }

type Tx = Parameters<Parameters<Database['db']['transaction']>[0]>[0]

export interface AlertStoreDeps {
  database: Database
  bus: EventBus
  metrics: HubMetrics
  /** The webhook outbox: alert events are written in the alert's own transaction. */
  outbox: { stage (tx: Tx, events: readonly HubEvent[]): Promise<void>, committed (): void } | null
}

export interface AlertListQuery { state?: AlertState, deviceId?: string, severity?: AlertSeverity, ruleId?: string, limit: number, cursor?: string }

const ACTIVE = sql`${alerts.state} in ('open', 'acknowledged')`

export function alertEventData (row: AlertRow): AlertEventData {
  return {
    id: row.id,
    ruleId: row.ruleId,
    ruleName: row.ruleName,
    kind: row.kind,
    severity: row.severity,
    deviceId: row.deviceId,
    state: row.state,
    value: row.value,
    message: row.message,
    raisedAt: row.raisedAt.toISOString(),
    acknowledgedAt: row.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: row.acknowledgedBy,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    resolution: row.resolution
  }
}

/** Rules and alerts in Postgres, and the one place an alert changes state: each transition is a
 * conditional statement (raise: an insert the partial unique index lets through once per rule and
 * device; acknowledge and resolve: an UPDATE from the states it leaves), committed with its webhook
 * deliveries, then published (`alert.*` on the bus) and counted (per severity). Only the statement that
 * changed a row publishes, so several processes evaluating the same condition publish it once. */
export class AlertStore {
  constructor (private readonly deps: AlertStoreDeps) {}

  private get db () { return this.deps.database.db }

  // --- rules (every query carries the tenant)

  async listRules (tenantId: string): Promise<AlertRuleRow[]> {
    return await this.db.select().from(alertRules).where(eq(alertRules.tenantId, tenantId)).orderBy(desc(alertRules.createdAt), desc(alertRules.id)).limit(1000)
  }

  async getRule (tenantId: string, id: string): Promise<AlertRuleRow | null> {
    const [row] = await this.db.select().from(alertRules).where(and(eq(alertRules.tenantId, tenantId), eq(alertRules.id, id)))
    return row ?? null
  }

  async countRules (tenantId: string): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)::int` }).from(alertRules).where(eq(alertRules.tenantId, tenantId))
    return row.n
  }

  async createRule (tenantId: string, rule: Required<AlertRuleInput>): Promise<AlertRuleRow> {
    const [row] = await this.db.insert(alertRules).values({ id: randomUUID(), tenantId, ...rule }).returning()
    return row
  }

  /** Replaces the rule's fields; a rule disabled, or changed in what it watches, resolves its alerts (the
   * evaluator raises them again under the new terms if they still hold). */
  async updateRule (tenantId: string, id: string, rule: Required<AlertRuleInput>): Promise<AlertRuleRow | null> {
    const { row, resolved } = await this.inTransaction(async (tx) => {
      const [before] = await tx.select().from(alertRules).where(and(eq(alertRules.tenantId, tenantId), eq(alertRules.id, id))).for('update')
      if (before === undefined) return { row: null, resolved: [] }
      const [row] = await tx.update(alertRules).set({ ...rule, updatedAt: new Date() }).where(eq(alertRules.id, id)).returning()
      const terms = (r: AlertRuleInput) => JSON.stringify([r.kind, r.metric, r.op, r.threshold, r.forSeconds, r.filter?.tag, r.filter?.operator, r.filter?.site])
      const changed = !rule.enabled || terms(before) !== terms(rule)
      const resolved = changed ? await this.resolveIn(tx, sql`${alerts.ruleId} = ${id}`, rule.enabled ? 'rule-changed' : 'rule-disabled') : []
      return { row, resolved }
    })
    this.published('resolved', resolved)
    return row
  }

  async deleteRule (tenantId: string, id: string): Promise<boolean> {
    const { deleted, resolved } = await this.inTransaction(async (tx) => {
      const gone = await tx.delete(alertRules).where(and(eq(alertRules.tenantId, tenantId), eq(alertRules.id, id))).returning({ id: alertRules.id })
      if (gone.length === 0) return { deleted: false, resolved: [] }
      return { deleted: true, resolved: await this.resolveIn(tx, sql`${alerts.ruleId} = ${id}`, 'rule-deleted') }
    })
    this.published('resolved', resolved)
    return deleted
  }

  /** Every enabled rule of every tenant (the evaluator's cache). */
  async enabledRules (): Promise<AlertRuleRow[]> {
    return await this.db.select().from(alertRules).where(eq(alertRules.enabled, true))
  }

  // --- alerts

  /** The (rule, device) pairs with an open or acknowledged alert. */
  async activeKeys (): Promise<AlertKey[]> {
    return await this.db.select({ ruleId: alerts.ruleId, deviceId: alerts.deviceId }).from(alerts).where(ACTIVE)
  }

  /** Active alerts of these rules (the evaluator's re-checks). */
  async activeOf (ruleIds: readonly string[]): Promise<AlertRow[]> {
    if (ruleIds.length === 0) return []
    return await this.db.select().from(alerts).where(and(ACTIVE, sql`${alerts.ruleId} = any(${textArray(ruleIds)}::uuid[])`))
  }

  /** Raises what is not already active; answers the alerts this call raised. */
  async raise (candidates: readonly RaiseCandidate[]): Promise<AlertRow[]> {
    if (candidates.length === 0) return []
    const unique = new Map(candidates.map((c) => [c.rule.id + '\u0000' + c.deviceId, c]))
    const values = [...unique.values()].map((c) => ({
      id: randomUUID(),
      tenantId: c.rule.tenantId,
      ruleId: c.rule.id,
      ruleName: c.rule.name,
      kind: c.rule.kind,
      severity: c.rule.severity,
      deviceId: c.deviceId,
      value: c.value,
      message: c.message
    }))
    const raised = await this.inTransaction(async (tx) => {
      const rows = await tx.insert(alerts).values(values)
        .onConflictDoNothing({ target: [alerts.ruleId, alerts.deviceId], where: sql`state in ('open', 'acknowledged')` }).returning()
      await this.deps.outbox?.stage(tx, rows.map((row) => ({ type: 'alert.raised', tenantId: row.tenantId, data: alertEventData(row) })))
      return rows
    })
    this.published('raised', raised)
    return raised
  }

  /** Resolves the active alerts of these (rule, device) pairs. */
  async resolve (keys: readonly AlertKey[], resolution = 'cleared'): Promise<AlertRow[]> {
    if (keys.length === 0) return []
    const where = sql`(${alerts.ruleId}, ${alerts.deviceId}) in (select * from unnest(${textArray(keys.map((k) => k.ruleId))}::uuid[], ${textArray(keys.map((k) => k.deviceId))}))`
    return await this.resolveWhere(where, resolution)
  }

  /** Resolves every active alert of a device (deleted). */
  async resolveDevice (deviceId: string, resolution: string): Promise<AlertRow[]> {
    return await this.resolveWhere(sql`${alerts.deviceId} = ${deviceId}`, resolution)
  }

  /** open → acknowledged, by `by` (`user:<id>`, `api-key:<id>`). */
  async acknowledge (tenantId: string, id: string, by: string): Promise<{ ok: true, alert: AlertRow } | { ok: false, reason: 'not-found' | 'state', state?: AlertState }> {
    const row = await this.inTransaction(async (tx) => {
      const [row] = await tx.update(alerts).set({ state: 'acknowledged', acknowledgedAt: new Date(), acknowledgedBy: by, updatedAt: new Date() })
        .where(and(eq(alerts.tenantId, tenantId), eq(alerts.id, id), eq(alerts.state, 'open'))).returning()
      if (row !== undefined) await this.deps.outbox?.stage(tx, [{ type: 'alert.acknowledged', tenantId: row.tenantId, data: alertEventData(row) }])
      return row
    })
    if (row !== undefined) {
      this.published('acknowledged', [row])
      return { ok: true, alert: row }
    }
    const existing = await this.get(tenantId, id)
    return existing === null ? { ok: false, reason: 'not-found' } : { ok: false, reason: 'state', state: existing.state }
  }

  async get (tenantId: string, id: string): Promise<AlertRow | null> {
    const [row] = await this.db.select().from(alerts).where(and(eq(alerts.tenantId, tenantId), eq(alerts.id, id)))
    return row ?? null
  }

  /** Newest first, by (raisedAt, id). */
  async list (tenantId: string, query: AlertListQuery): Promise<{ items: AlertRow[], nextCursor: string | null }> {
    const where: SQL[] = [eq(alerts.tenantId, tenantId)]
    if (query.state !== undefined) where.push(eq(alerts.state, query.state))
    if (query.deviceId !== undefined) where.push(eq(alerts.deviceId, query.deviceId))
    if (query.severity !== undefined) where.push(eq(alerts.severity, query.severity))
    if (query.ruleId !== undefined) where.push(eq(alerts.ruleId, query.ruleId))
    if (query.cursor !== undefined) {
      const [raisedAt, id] = decodeCursor(query.cursor, 2)
      where.push(sql`(${alerts.raisedAt}, ${alerts.id}) < (${raisedAt}::timestamptz, ${id}::uuid)`)
    }
    const rows = await this.db.select().from(alerts).where(and(...where)).orderBy(desc(alerts.raisedAt), desc(alerts.id)).limit(query.limit + 1)
    const items = rows.slice(0, query.limit)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.raisedAt.toISOString(), last.id]) : null }
  }

  private async resolveWhere (where: SQL, resolution: string): Promise<AlertRow[]> {
    const rows = await this.inTransaction((tx) => this.resolveIn(tx, where, resolution))
    this.published('resolved', rows)
    return rows
  }

  private async resolveIn (tx: Tx, where: SQL, resolution: string): Promise<AlertRow[]> {
    const now = new Date()
    const rows = await tx.update(alerts).set({ state: 'resolved', resolvedAt: now, resolution, updatedAt: now }).where(and(ACTIVE, where)).returning()
    await this.deps.outbox?.stage(tx, rows.map((row) => ({ type: 'alert.resolved', tenantId: row.tenantId, data: alertEventData(row) })))
    return rows
  }

  private async inTransaction<T> (fn: (tx: Tx) => Promise<T>): Promise<T> {
    return await this.db.transaction(fn)
  }

  private published (what: 'raised' | 'acknowledged' | 'resolved', rows: readonly AlertRow[]): void {
    if (rows.length === 0) return
    const counter = what === 'raised' ? this.deps.metrics.alertsRaised : what === 'acknowledged' ? this.deps.metrics.alertsAcknowledged : this.deps.metrics.alertsResolved
    for (const row of rows) {
      counter.inc({ severity: row.severity })
      this.deps.bus.publish({ type: `alert.${what}`, tenantId: row.tenantId, data: alertEventData(row) })
    }
    this.deps.outbox?.committed()
  }
}
