import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { HubEvent, TelemetryEventData } from '../../protocol/events.ts'
import type { Presence } from '../bus/presence.ts'
import type { Database } from '../db/database.ts'
import type { AlertKind, AlertRuleRow } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'
import type { PlanStore } from '../usage/plans.ts'
import { alertMessage, filterMatches, type DeviceFacts } from './alert-rules.ts'
import type { AlertKey, AlertStore, RaiseCandidate } from './alert-store.ts'
import { followMetricRules, keyOf, type Breach } from './metric-breaches.ts'

export interface AlertEvaluatorOptions {
  /** How long events gather before a batch is evaluated (ms; default 250). */
  batchMs?: number
  /** The sweep: `offline` and `forSeconds` conditions, re-checks, rule reloads (ms; default 5000). */
  sweepMs?: number
  /** How long what the evaluator read of a device (tags, operators, plan) is trusted (ms; default 30 s). */
  deviceCacheMs?: number
}

export interface AlertEvaluatorDeps {
  database: Database
  store: AlertStore
  plans: PlanStore
  presence: Presence
  logger: Logger
  options?: AlertEvaluatorOptions
}

const MAX_QUEUED_EVENTS = 200_000

/** Evaluates the alert rules off the ingest path. `observe` is called for each event this process
 * publishes, after its commit, and only queues it; every `batchMs` the queue is evaluated as one batch
 * (one read of the devices involved, one insert of what to raise, one update of what to resolve), and
 * only the state at the end of a batch counts, so a burst of samples breaking a rule raises it once.
 * A sweep every `sweepMs` handles what no event announces: `offline` devices, `forSeconds` elapsing,
 * data-usage periods rolling over, rules changed on other processes.
 *
 * What is active is known from the database (loaded at start and at each sweep, then kept up to date by
 * this process's own transitions), so a restart neither forgets an open alert nor raises it again; the
 * partial unique index settles any race between processes. How long a `metric` condition has held is
 * kept in memory, in the device's sample times: after a restart, or when the device moves to another
 * process, its clock starts again. */
export class AlertEvaluator {
  private rules = new Map<string, AlertRuleRow>()
  private byTenant = new Map<string, Map<AlertKind, AlertRuleRow[]>>()
  private active = new Set<string>()
  private readonly breaching = new Map<string, Breach>()
  private queue: HubEvent[] = []
  private readonly deviceCache = new Map<string, { facts: DeviceFacts, at: number }>()
  private batchTimer: NodeJS.Timeout | null = null
  private readonly sweepTimer: NodeJS.Timeout
  private chain: Promise<void> = Promise.resolve()
  private closed = false
  private readonly batchMs: number
  private readonly deviceCacheMs: number

  private constructor (private readonly deps: AlertEvaluatorDeps) {
    this.batchMs = deps.options?.batchMs ?? 250
    this.deviceCacheMs = deps.options?.deviceCacheMs ?? 30_000
    this.sweepTimer = setInterval(() => { this.enqueue(() => this.sweep()) }, deps.options?.sweepMs ?? 5000).unref()
  }

  static async start (deps: AlertEvaluatorDeps): Promise<AlertEvaluator> {
    const evaluator = new AlertEvaluator(deps)
    await evaluator.reload()
    return evaluator
  }

  /** For each event this process publishes: a few map lookups and a push, never a query. */
  observe = (event: HubEvent): void => {
    if (this.closed) return
    const kinds = this.byTenant.get(event.tenantId)
    let wanted = false
    switch (event.type) {
      case 'telemetry': wanted = kinds !== undefined && (kinds.has('metric') || (kinds.has('data-usage') && (event.data.bytesUp !== undefined || event.data.bytesDown !== undefined))); break
      case 'notification': wanted = kinds?.has('notification-rejected') === true && event.data.deviceId !== null && event.data.status !== 'duplicate'; break
      case 'command.updated': wanted = kinds?.has('command-failed') === true && (event.data.status === 'failed' || event.data.status === 'succeeded'); break
      case 'device.online': case 'device.offline': wanted = kinds?.has('offline') === true; break
      case 'device.deleted': wanted = true; break
    }
    if (!wanted || this.queue.length >= MAX_QUEUED_EVENTS) return
    this.queue.push(event)
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = null
      this.enqueue(() => this.evaluate())
    }, this.batchMs)
  }

  /** Re-reads the rules now (after a change through this process's API). */
  async rulesChanged (): Promise<void> {
    await this.enqueue(() => this.reload())
  }

  /** Evaluates what is queued, then stops. */
  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.sweepTimer)
    if (this.batchTimer !== null) { clearTimeout(this.batchTimer); this.batchTimer = null }
    await this.enqueue(() => this.evaluate())
  }

  private enqueue (work: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(work).catch((err: Error) => { this.deps.logger.error({ err: err.message }, 'alert evaluation failed') })
    return this.chain
  }

  private rulesOf (tenantId: string, kind: AlertKind): AlertRuleRow[] {
    return this.byTenant.get(tenantId)?.get(kind) ?? []
  }

  private async reload (): Promise<void> {
    const [rules, active] = await Promise.all([this.deps.store.enabledRules(), this.deps.store.activeKeys()])
    this.rules = new Map(rules.map((r) => [r.id, r]))
    const byTenant = new Map<string, Map<AlertKind, AlertRuleRow[]>>()
    for (const rule of rules) {
      let kinds = byTenant.get(rule.tenantId)
      if (kinds === undefined) byTenant.set(rule.tenantId, kinds = new Map())
      const list = kinds.get(rule.kind)
      if (list === undefined) kinds.set(rule.kind, [rule])
      else list.push(rule)
    }
    this.byTenant = byTenant
    this.active = new Set(active.map((k) => keyOf(k.ruleId, k.deviceId)))
    for (const [key, breach] of this.breaching) if (!this.rules.has(breach.ruleId)) this.breaching.delete(key)
  }

  /** Tags, operators and plan of the devices, from the cache or one query for the rest. */
  private async facts (deviceIds: Iterable<string>): Promise<Map<string, DeviceFacts>> {
    const now = Date.now()
    const out = new Map<string, DeviceFacts>()
    const missing: string[] = []
    for (const id of deviceIds) {
      const cached = this.deviceCache.get(id)
      if (cached !== undefined && now - cached.at < this.deviceCacheMs) out.set(id, cached.facts)
      else missing.push(id)
    }
    if (missing.length > 0) {
      const rows = await this.deps.database.rows<{ id: string, tenant_id: string, tags: string[] | string, site: string | null, plan_id: string | null, operators: string[] | string }>(sql`
        select d.id, d.tenant_id, d.tags, d.site, d.plan_id,
          array(select distinct p.operator_id from profiles p where p.device_id = d.id and p.state <> 'deleted' and p.operator_id is not null) as operators
        from devices d where d.id = any(${textArray(missing)})`)
      for (const row of rows) {
        const facts = { tenantId: row.tenant_id, tags: textList(row.tags), operators: textList(row.operators), site: row.site, planId: row.plan_id }
        this.deviceCache.set(row.id, { facts, at: now })
        out.set(row.id, facts)
      }
      if (this.deviceCache.size > 200_000) this.deviceCache.clear()
    }
    return out
  }

  private async evaluate (): Promise<void> {
    const events = this.queue
    this.queue = []
    if (events.length === 0) return
    const decisions = new Map<string, { raise: RaiseCandidate | null, key: AlertKey }>()
    const decide = (rule: AlertRuleRow, deviceId: string, holds: boolean, value: number | null) => {
      const key = keyOf(rule.id, deviceId)
      if (holds) decisions.set(key, { raise: { rule, deviceId, value, message: alertMessage(rule, value) }, key: { ruleId: rule.id, deviceId } })
      else decisions.set(key, { raise: null, key: { ruleId: rule.id, deviceId } })
    }
    const samples = new Map<string, TelemetryEventData[]>()
    const deleted: string[] = []
    const ids = new Set<string>()
    for (const event of events) {
      if (event.type === 'device.deleted') { deleted.push(event.data.deviceId); continue }
      const deviceId = (event.data as { deviceId?: string | null }).deviceId
      if (typeof deviceId === 'string') ids.add(deviceId)
      if (event.type === 'telemetry') {
        const list = samples.get(event.data.deviceId)
        if (list === undefined) samples.set(event.data.deviceId, [event.data])
        else list.push(event.data)
      }
    }
    const facts = await this.facts(ids)
    const usageDevices: string[] = []
    const now = Date.now()

    for (const [deviceId, list] of samples) {
      const device = facts.get(deviceId)
      if (device === undefined) continue
      if (this.rulesOf(device.tenantId, 'data-usage').length > 0 && device.planId !== null && list.some((s) => s.bytesUp !== undefined || s.bytesDown !== undefined)) usageDevices.push(deviceId)
      const rules = this.rulesOf(device.tenantId, 'metric').filter((r) => filterMatches(r.filter, device))
      if (rules.length === 0) continue
      followMetricRules(rules, deviceId, list, { breaching: this.breaching, active: this.active, now, decide })
    }

    for (const event of events) {
      if (event.type === 'notification' || event.type === 'command.updated') {
        const deviceId = event.data.deviceId as string
        const device = facts.get(deviceId)
        if (device === undefined) continue
        const kind = event.type === 'notification' ? 'notification-rejected' : 'command-failed'
        const holds = event.type === 'notification' ? event.data.status === 'rejected' : event.data.status === 'failed'
        for (const rule of this.rulesOf(device.tenantId, kind)) {
          if (filterMatches(rule.filter, device)) decide(rule, deviceId, holds, null)
        }
      } else if (event.type === 'device.online' || event.type === 'device.offline') {
        const device = facts.get(event.data.deviceId)
        if (device === undefined) continue
        for (const rule of this.rulesOf(device.tenantId, 'offline')) {
          if (!filterMatches(rule.filter, device)) continue
          if (event.type === 'device.online') decide(rule, event.data.deviceId, false, null)
          else if (rule.forSeconds === 0) decide(rule, event.data.deviceId, true, 0)
        }
      }
    }

    if (usageDevices.length > 0) {
      for (const use of await this.deps.plans.currentUse(usageDevices)) {
        const device = facts.get(use.deviceId)
        if (device === undefined) continue
        const percent = use.quotaBytes > 0 ? use.usedBytes / use.quotaBytes * 100 : 0
        for (const rule of this.rulesOf(use.tenantId, 'data-usage')) {
          if (filterMatches(rule.filter, device)) decide(rule, use.deviceId, percent >= (rule.threshold as number), percent)
        }
      }
    }

    await this.apply([...decisions.values()])
    for (const deviceId of deleted) {
      this.deviceCache.delete(deviceId)
      const resolved = await this.deps.store.resolveDevice(deviceId, 'device-deleted')
      for (const row of resolved) this.active.delete(keyOf(row.ruleId, row.deviceId))
      for (const [key, breach] of this.breaching) if (breach.deviceId === deviceId) this.breaching.delete(key)
    }
  }

  /** Raises what holds and is not active, resolves what is active and no longer holds. */
  private async apply (decisions: ReadonlyArray<{ raise: RaiseCandidate | null, key: AlertKey }>, resolution = 'cleared'): Promise<void> {
    const raise: RaiseCandidate[] = []
    const clear: AlertKey[] = []
    for (const d of decisions) {
      const active = this.active.has(keyOf(d.key.ruleId, d.key.deviceId))
      if (d.raise !== null && !active) raise.push(d.raise)
      else if (d.raise === null && active) clear.push(d.key)
    }
    if (raise.length > 0) {
      await this.deps.store.raise(raise)
      // Raised now, or already active (by another process): active either way.
      for (const c of raise) this.active.add(keyOf(c.rule.id, c.deviceId))
    }
    if (clear.length > 0) {
      await this.deps.store.resolve(clear, resolution)
      for (const k of clear) this.active.delete(keyOf(k.ruleId, k.deviceId))
    }
  }

  private async sweep (): Promise<void> {
    await this.reload()
    const now = Date.now()
    const decisions: Array<{ raise: RaiseCandidate | null, key: AlertKey }> = []
    const hold = (rule: AlertRuleRow, deviceId: string, value: number | null) =>
      decisions.push({ raise: { rule, deviceId, value, message: alertMessage(rule, value) }, key: { ruleId: rule.id, deviceId } })
    const clear = (ruleId: string, deviceId: string) => decisions.push({ raise: null, key: { ruleId, deviceId } })

    // `metric … for forSeconds` on a device that has gone quiet: its last value still breaks the rule, and
    // its timeline, carried on by the time since that sample arrived, has reached forSeconds.
    for (const breach of this.breaching.values()) {
      const rule = this.rules.get(breach.ruleId)
      if (rule !== undefined && breach.lastTs + (now - breach.seenAt) - breach.since >= rule.forSeconds * 1000) hold(rule, breach.deviceId, breach.value)
    }

    // `offline`: not connected to any process, and not heard from for forSeconds (a device never seen
    // counts from its creation; a disabled device is left out: it cannot connect).
    for (const [tenantId, kinds] of this.byTenant) {
      const rules = kinds.get('offline')
      if (rules === undefined) continue
      const minFor = Math.min(...rules.map((r) => r.forSeconds))
      const rows = await this.deps.database.rows<{ id: string, seen_ms: number }>(sql`
        select id, (extract(epoch from coalesce(last_seen_at, created_at)) * 1000)::float8 as seen_ms from devices
        where tenant_id = ${tenantId} and not disabled and coalesce(last_seen_at, created_at) < now() - make_interval(secs => ${minFor})
        limit 100000`)
      if (rows.length === 0) continue
      const online = await this.deps.presence.onlineOf(tenantId, rows.map((r) => r.id))
      const offline = rows.filter((r) => !online.has(r.id))
      const facts = await this.facts(offline.map((r) => r.id))
      for (const row of offline) {
        const device = facts.get(row.id)
        if (device === undefined) continue
        const seen = Math.max(Number(row.seen_ms), this.deps.presence.lastSeenHere(row.id) ?? 0)
        const seconds = Math.floor((now - seen) / 1000)
        for (const rule of rules) {
          if (seconds >= rule.forSeconds && filterMatches(rule.filter, device)) hold(rule, row.id, seconds)
        }
      }
    }

    // Active offline alerts of devices that are back (connected to another process, say); active
    // data-usage alerts whose period rolled over or whose device left its plan.
    const offlineRules = [...this.rules.values()].filter((r) => r.kind === 'offline').map((r) => r.id)
    const usageRules = [...this.rules.values()].filter((r) => r.kind === 'data-usage').map((r) => r.id)
    const active = await this.deps.store.activeOf([...offlineRules, ...usageRules])
    const offlineActive = active.filter((a) => a.kind === 'offline')
    const byTenant = new Map<string, string[]>()
    for (const a of offlineActive) byTenant.set(a.tenantId, [...(byTenant.get(a.tenantId) ?? []), a.deviceId])
    for (const [tenantId, deviceIds] of byTenant) {
      const online = await this.deps.presence.onlineOf(tenantId, deviceIds)
      for (const a of offlineActive) if (a.tenantId === tenantId && online.has(a.deviceId)) clear(a.ruleId, a.deviceId)
    }
    const usageActive = active.filter((a) => a.kind === 'data-usage')
    if (usageActive.length > 0) {
      const uses = new Map((await this.deps.plans.currentUse(usageActive.map((a) => a.deviceId))).map((u) => [u.deviceId, u]))
      for (const a of usageActive) {
        const use = uses.get(a.deviceId)
        const rule = this.rules.get(a.ruleId)
        const percent = use === undefined || use.quotaBytes <= 0 ? 0 : use.usedBytes / use.quotaBytes * 100
        if (rule === undefined || percent < (rule.threshold as number)) clear(a.ruleId, a.deviceId)
      }
    }
    await this.apply(decisions)
  }
}

/** A text[] as the driver returned it (an array, or Postgres' `{a,b}` literal). */
function textList (value: string[] | string | null): string[] {
  if (value === null) return []
  if (Array.isArray(value)) return value
  const inner = value.replace(/^\{|\}$/g, '')
  return inner === '' ? [] : inner.split(',').map((v) => v.replace(/^"|"$/g, ''))
}
