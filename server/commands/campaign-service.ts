import { randomUUID } from 'node:crypto'
import { and, asc, desc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { CommandOp } from '../../protocol/commands.ts'
import type { CampaignEventData } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { Database } from '../db/database.ts'
import { campaigns, campaignTargets, commands, devices, profiles, type CampaignRow, type CampaignStatus } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { decodeCursor, encodeCursor } from '../repositories/cursor.ts'
import type { Tx } from '../repositories/euicc-repository.ts'
import { resultRows, textArray } from '../db/sql-values.ts'
import type { CommandService } from './command-service.ts'
import { TERMINAL, validateCommand, type Requester } from './command-transitions.ts'

export interface CampaignFilter {
  /** Devices carrying every one of these tags. */
  tags?: string[]
  /** Devices holding a (not deleted) profile of this operator id. */
  operator?: string
  /** Devices at this field site (their `site`). */
  site?: string
  /** Devices whose IMEI starts with this Type Allocation Code (the first 8 digits name the model). */
  model?: string
  deviceIds?: string[]
}

export interface CampaignInput {
  tenantId: string
  name: string
  op: CommandOp
  iccid?: string | null
  activationCode?: string | null
  filter: CampaignFilter
  ratePerMinute: number
  concurrency: number
  failureThreshold: number
  ttlSeconds: number
  requester: Requester
}

export type Progress = CampaignEventData['progress']

export interface CampaignServiceDeps {
  database: Database
  bus: EventBus
  commands: CommandService
  logger: Logger
  /** The safety tick (ms, default 5000): how often every running campaign is stepped even if nothing
   * woke it. Campaigns advance on command ends and on rate timers; this only catches what no event
   * reports (see the class comment). */
  tickMs?: number
}

const MAX_TARGETS = 100_000
/** How long to wait before stepping again a campaign another process was stepping (its lock was held). */
const LOCK_RETRY_MS = 100
const emptyProgress = (): Progress => ({ pending: 0, queued: 0, sent: 0, succeeded: 0, failed: 0, expired: 0, cancelled: 0 })

/** Campaigns (docs/operations.md): one operation over a set of devices fixed at creation, each device's
 * command an ordinary command. A step launches as many commands as the campaign's rate (a token bucket)
 * and its concurrency limit (queued + sent) allow; failures (failed + expired) reaching the threshold
 * pause it; nothing pending and nothing in flight completes it. One process steps a campaign at a time (a
 * transaction-scoped advisory lock).
 *
 * A campaign is stepped when something can change what a step does, not on a poll:
 * - one of its commands ends: in this process through the command-finished hook, in another through
 *   `command.updated` (a terminal status) on the bus; both may arrive, wakes of one campaign coalesce;
 * - its token bucket holds the next token (a timer, set when the rate and not the concurrency limit held
 *   a launch back);
 * - it is created or resumed here; its lock was held by another process (retried after LOCK_RETRY_MS).
 * The slow safety tick (`tickMs`) steps every running campaign for what no event reports: campaigns
 * left running by a restart, commands that ended while no process listened, a `command.updated` lost by
 * the at-most-once Redis bus, a campaign resumed on a process that then stopped. Steps run one at a time
 * in this process; a busy campaign is stepped back to back, never once per command end queued up. */
export class CampaignService {
  private readonly timer: NodeJS.Timeout
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  private readonly lastProgress = new Map<string, string>()
  /** Campaigns to step; `all`: every running one (the safety tick). */
  private readonly due = new Set<string>()
  private all = false
  private stepping: Promise<void> | null = null
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly unsubscribe: Array<() => void>
  private closed = false

  constructor (private readonly deps: CampaignServiceDeps) {
    this.timer = setInterval(() => { this.wakeAll() }, deps.tickMs ?? 5000).unref()
    this.unsubscribe = [
      deps.commands.onFinished((row) => { if (row.campaignId !== null) this.wake(row.campaignId) }),
      deps.bus.subscribe((event) => {
        if (event.type === 'command.updated' && event.data.campaignId !== null && TERMINAL.has(event.data.status)) this.wake(event.data.campaignId)
      })
    ]
    this.wakeAll() // campaigns left running by a restart go on at once
  }

  private get db () { return this.deps.database.db }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    for (const unsubscribe of this.unsubscribe) unsubscribe()
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    await this.stepping
  }

  /** Steps the campaign soon (after the steps already under way in this process). */
  wake (campaignId: string): void {
    this.due.add(campaignId)
    this.run()
  }

  /** Steps every running campaign soon. */
  wakeAll (): void {
    this.all = true
    this.run()
  }

  private wakeLater (campaignId: string, ms: number): void {
    if (this.closed || this.timers.has(campaignId)) return
    this.timers.set(campaignId, setTimeout(() => { this.timers.delete(campaignId); this.wake(campaignId) }, Math.max(1, ms)).unref())
  }

  private run (): void {
    if (this.closed || this.stepping !== null) return
    this.stepping = this.drain().finally(() => {
      this.stepping = null
      if (this.all || this.due.size > 0) this.run()
    })
  }

  /** Steps what is due until nothing is; a failed step is logged and waits for the next wake. */
  private async drain (): Promise<void> {
    while (!this.closed && (this.all || this.due.size > 0)) {
      const ids = new Set(this.due)
      this.due.clear()
      if (this.all) {
        this.all = false
        try {
          const running = await this.db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.status, 'running')).orderBy(asc(campaigns.createdAt))
          for (const r of running) ids.add(r.id)
        } catch (err) {
          this.deps.logger.error({ err: (err as Error).message }, 'campaign tick failed')
        }
      }
      for (const id of ids) {
        if (this.closed) return
        this.due.delete(id)
        await this.step(id).catch((err: Error) => this.deps.logger.error({ err: err.message, campaignId: id }, 'campaign step failed'))
      }
    }
  }

  async create (input: CampaignInput): Promise<{ campaign: CampaignRow, progress: Progress }> {
    validateCommand(input.op, input.iccid ?? null, input.activationCode ?? null)
    const targets = await this.resolve(input.tenantId, input.filter)
    if (targets.length === 0) throw new errors.InvalidCommand('the filter matches no device')
    const id = randomUUID()
    const campaign = await this.db.transaction(async (tx) => {
      const [row] = await tx.insert(campaigns).values({
        id,
        tenantId: input.tenantId,
        name: input.name,
        op: input.op,
        iccid: input.iccid ?? null,
        activationCode: input.activationCode ?? null,
        filter: input.filter,
        ratePerMinute: input.ratePerMinute,
        concurrency: input.concurrency,
        failureThreshold: input.failureThreshold,
        ttlSeconds: input.ttlSeconds,
        requestedBy: `${input.requester.type}:${input.requester.id}`,
        total: targets.length
      }).returning()
      for (let i = 0; i < targets.length; i += 1000) {
        await tx.insert(campaignTargets).values(targets.slice(i, i + 1000).map((deviceId, j) => ({ campaignId: id, deviceId, position: i + j })))
      }
      return row
    })
    const progress = { ...emptyProgress(), pending: targets.length }
    this.emit(campaign, progress)
    this.wake(campaign.id)
    return { campaign, progress }
  }

  /** The tenant's device ids matching the filter, oldest first. */
  async resolve (tenantId: string, filter: CampaignFilter): Promise<string[]> {
    const where: SQL[] = [eq(devices.tenantId, tenantId)]
    if (filter.tags !== undefined && filter.tags.length > 0) where.push(sql`${devices.tags} @> ${textArray(filter.tags)}`)
    if (filter.site !== undefined) where.push(eq(devices.site, filter.site))
    if (filter.model !== undefined) where.push(sql`${devices.imei} like ${filter.model.replace(/[%_\\]/g, '') + '%'}`)
    if (filter.deviceIds !== undefined) where.push(inArray(devices.id, filter.deviceIds.length > 0 ? filter.deviceIds : ['']))
    if (filter.operator !== undefined) {
      where.push(sql`exists (select 1 from ${profiles} where ${profiles.deviceId} = ${devices.id} and ${profiles.operatorId} = ${filter.operator} and ${profiles.state} <> 'deleted')`)
    }
    const rows = await this.db.select({ id: devices.id }).from(devices).where(and(...where)).orderBy(asc(devices.createdAt), asc(devices.id)).limit(MAX_TARGETS)
    return rows.map((r) => r.id)
  }

  async get (tenantId: string, id: string): Promise<{ campaign: CampaignRow, progress: Progress } | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null
    const [campaign] = await this.db.select().from(campaigns).where(and(eq(campaigns.tenantId, tenantId), eq(campaigns.id, id)))
    if (campaign === undefined) return null
    return { campaign, progress: await this.progress(this.db, id) }
  }

  async list (tenantId: string, limit: number, cursor?: string): Promise<{ items: Array<{ campaign: CampaignRow, progress: Progress }>, nextCursor: string | null }> {
    const where: SQL[] = [eq(campaigns.tenantId, tenantId)]
    if (cursor !== undefined) {
      const [at, id] = decodeCursor(cursor, 2)
      where.push(sql`(${campaigns.createdAt}, ${campaigns.id}) < (${new Date(at).toISOString()}::timestamptz, ${id}::uuid)`)
    }
    const rows = await this.db.select().from(campaigns).where(and(...where)).orderBy(desc(campaigns.createdAt), desc(campaigns.id)).limit(limit + 1)
    const page = rows.slice(0, limit)
    const items = []
    for (const campaign of page) items.push({ campaign, progress: await this.progress(this.db, campaign.id) })
    const last = page.at(-1)
    return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt.toISOString(), last.id]) : null }
  }

  async pause (tenantId: string, id: string): Promise<{ campaign: CampaignRow, progress: Progress }> {
    return await this.transition(tenantId, id, ['running'], 'paused', { pausedReason: 'paused by request' })
  }

  /** Resumes a paused campaign; the failure threshold then counts the failures from here on. */
  async resume (tenantId: string, id: string): Promise<{ campaign: CampaignRow, progress: Progress }> {
    const current = await this.get(tenantId, id)
    if (current === null) throw new errors.NotFound('Campaign')
    const failures = current.progress.failed + current.progress.expired
    const resumed = await this.transition(tenantId, id, ['paused'], 'running', { pausedReason: null, failureBaseline: failures })
    this.wake(id)
    return resumed
  }

  /** Cancels a campaign: no further command is launched, and its queued commands are cancelled. */
  async cancel (tenantId: string, id: string, requester: Requester): Promise<{ campaign: CampaignRow, progress: Progress }> {
    await this.transition(tenantId, id, ['running', 'paused'], 'cancelled', { finishedAt: new Date() })
    await this.deps.commands.cancelQueuedOfCampaign(id, requester)
    const after = await this.get(tenantId, id)
    if (after === null) throw new errors.NotFound('Campaign')
    this.emit(after.campaign, after.progress)
    return after
  }

  private async transition (tenantId: string, id: string, from: CampaignStatus[], to: CampaignStatus, set: Partial<CampaignRow>): Promise<{ campaign: CampaignRow, progress: Progress }> {
    const [row] = await this.db.update(campaigns).set({ ...set, status: to, updatedAt: new Date() })
      .where(and(eq(campaigns.tenantId, tenantId), eq(campaigns.id, id), inArray(campaigns.status, from))).returning()
    if (row === undefined) {
      const current = await this.get(tenantId, id)
      if (current === null) throw new errors.NotFound('Campaign')
      throw new errors.CampaignState(`the campaign is ${current.campaign.status}; it cannot become ${to}`)
    }
    const progress = await this.progress(this.db, id)
    this.emit(row, progress)
    return { campaign: row, progress }
  }

  async progress (db: Tx | CampaignService['db'], campaignId: string): Promise<Progress> {
    const progress = emptyProgress()
    const rows = await db.select({ status: commands.status, n: sql<number>`count(*)::int` }).from(commands).where(eq(commands.campaignId, campaignId)).groupBy(commands.status)
    for (const r of rows) progress[r.status] = Number(r.n)
    const [pending] = await db.select({ n: sql<number>`count(*)::int` }).from(campaignTargets).where(and(eq(campaignTargets.campaignId, campaignId), isNull(campaignTargets.commandId)))
    progress.pending = Number(pending?.n ?? 0)
    return progress
  }

  private tokens (campaign: CampaignRow): number {
    const now = Date.now()
    const cap = Math.max(1, campaign.ratePerMinute / 60)
    const bucket = this.buckets.get(campaign.id) ?? { tokens: 1, at: now }
    bucket.tokens = Math.min(cap, bucket.tokens + (now - bucket.at) * campaign.ratePerMinute / 60_000)
    bucket.at = now
    this.buckets.set(campaign.id, bucket)
    return bucket.tokens
  }

  /** Steps one campaign: pause at the failure threshold, complete, or launch what rate and concurrency
   * allow (and set the rate timer when the rate held launches back). */
  private async step (campaignId: string): Promise<void> {
    const requester: Requester = { type: 'campaign', id: campaignId }
    const outcome = await this.db.transaction(async (tx) => {
      const result = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(hashtext(${campaignId})) as locked`)
      const [lock] = resultRows<{ locked: boolean }>(result)
      if (lock?.locked !== true) return 'busy' as const
      const [fresh] = await tx.select().from(campaigns).where(and(eq(campaigns.id, campaignId), eq(campaigns.status, 'running')))
      if (fresh === undefined) return null
      const progress = await this.progress(tx, fresh.id)
      const failures = progress.failed + progress.expired - fresh.failureBaseline
      if (failures >= fresh.failureThreshold) {
        const [paused] = await tx.update(campaigns).set({ status: 'paused', pausedReason: `failure threshold reached: ${failures} failed (threshold ${fresh.failureThreshold})`, updatedAt: new Date() }).where(eq(campaigns.id, fresh.id)).returning()
        return { campaign: paused, progress, launched: [], nextTokenMs: null }
      }
      const inFlight = progress.queued + progress.sent
      if (progress.pending === 0 && inFlight === 0) {
        const [completed] = await tx.update(campaigns).set({ status: 'completed', finishedAt: new Date(), updatedAt: new Date() }).where(eq(campaigns.id, fresh.id)).returning()
        return { campaign: completed, progress, launched: [], nextTokenMs: null }
      }
      const room = Math.min(fresh.concurrency - inFlight, progress.pending)
      const tokens = this.tokens(fresh)
      // Held back by the rate, not by concurrency: step again when the bucket holds the next token.
      const nextTokenMs = room > Math.floor(tokens) ? Math.ceil((1 - (tokens - Math.floor(tokens))) * 60_000 / fresh.ratePerMinute) : null
      const budget = Math.min(room, Math.floor(tokens))
      if (budget <= 0) return { campaign: fresh, progress, launched: [], nextTokenMs }
      const targets = await tx.select({ deviceId: campaignTargets.deviceId }).from(campaignTargets)
        .where(and(eq(campaignTargets.campaignId, fresh.id), isNull(campaignTargets.commandId)))
        .orderBy(asc(campaignTargets.position)).limit(budget)
      const launched = await this.deps.commands.insert(tx, targets.map((t) => ({
        tenantId: fresh.tenantId, deviceId: t.deviceId, op: fresh.op, iccid: fresh.iccid, activationCode: fresh.activationCode, ttlSeconds: fresh.ttlSeconds, requester, campaignId: fresh.id
      })))
      for (const row of launched) {
        await tx.update(campaignTargets).set({ commandId: row.id }).where(and(eq(campaignTargets.campaignId, fresh.id), eq(campaignTargets.deviceId, row.deviceId)))
      }
      const bucket = this.buckets.get(fresh.id)
      if (bucket !== undefined) bucket.tokens -= launched.length
      progress.pending -= launched.length
      progress.queued += launched.length
      return { campaign: fresh, progress, launched, nextTokenMs }
    })
    if (outcome === 'busy') {
      this.wakeLater(campaignId, LOCK_RETRY_MS)
      return
    }
    if (outcome === null) return
    if (outcome.nextTokenMs !== null) this.wakeLater(campaignId, outcome.nextTokenMs)
    await this.deps.commands.announce(outcome.launched, requester)
    this.emit(outcome.campaign, outcome.progress)
    if (outcome.campaign.status !== 'running') this.buckets.delete(outcome.campaign.id)
  }

  /** Publishes `campaign.updated` when the status or the counts changed. */
  private emit (campaign: CampaignRow, progress: Progress): void {
    const key = campaign.status + JSON.stringify(progress)
    if (this.lastProgress.get(campaign.id) === key) return
    this.lastProgress.set(campaign.id, key)
    if (campaign.status === 'completed' || campaign.status === 'cancelled') this.lastProgress.delete(campaign.id)
    this.deps.bus.publish({ type: 'campaign.updated', tenantId: campaign.tenantId, data: campaignEventData(campaign, progress) })
  }
}

export function campaignEventData (campaign: CampaignRow, progress: Progress): CampaignEventData {
  return { id: campaign.id, name: campaign.name, op: campaign.op, status: campaign.status, pausedReason: campaign.pausedReason, total: campaign.total, progress }
}
