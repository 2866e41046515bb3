import { randomUUID } from 'node:crypto'
import { and, desc, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { plans, type PlanPeriod, type PlanRow } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'

export interface UsagePoint { periodStart: string, bytesUp: number, bytesDown: number }
/** A device's use of its plan in the plan's current period (UTC day or month). */
export interface PlanUse { deviceId: string, tenantId: string, planId: string, quotaBytes: number, period: PlanPeriod, usedBytes: number }
export interface PlanSummary { planId: string, name: string, period: PlanPeriod, quotaBytes: number, devices: number, usedBytes: number, devicesOverQuota: number }

const UNIQUE_VIOLATION = '23505'
const isUnique = (err: { code?: string, cause?: { code?: string } }) => err.code === UNIQUE_VIOLATION || err.cause?.code === UNIQUE_VIOLATION

/** The current period's first day for a plan period, in SQL (UTC). */
const periodStart = (period: 'day' | 'month') => period === 'day'
  ? sql`(now() at time zone 'utc')::date`
  : sql`date_trunc('month', now() at time zone 'utc')::date`

/** Data plans (per tenant) and reads of the usage the ingest counted (server/usage/usage-counter.ts):
 * every read is of the daily or monthly rows, never of raw telemetry. */
export class PlanStore {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  /** null when the tenant already has a plan of that name. */
  async create (tenantId: string, input: { name: string, quotaBytes: number, period: PlanPeriod }): Promise<PlanRow | null> {
    try {
      const [row] = await this.db.insert(plans).values({ id: randomUUID(), tenantId, ...input }).returning()
      return row
    } catch (err) {
      if (isUnique(err as { code?: string })) return null
      throw err
    }
  }

  async list (tenantId: string): Promise<PlanRow[]> {
    return await this.db.select().from(plans).where(eq(plans.tenantId, tenantId)).orderBy(desc(plans.createdAt), desc(plans.id)).limit(1000)
  }

  async belongsTo (tenantId: string, id: string): Promise<boolean> {
    const [row] = await this.db.select({ id: plans.id }).from(plans).where(and(eq(plans.tenantId, tenantId), eq(plans.id, id)))
    return row !== undefined
  }

  /** A device's usage per UTC day or month, oldest first, for periods starting in [from, to]. */
  async deviceUsage (deviceId: string, period: 'day' | 'month', from: Date, to: Date): Promise<UsagePoint[]> {
    const rows = period === 'day'
      ? await this.database.rows<{ start: string, up: string | number, down: string | number }>(sql`
          select to_char(day, 'YYYY-MM-DD') as start, bytes_up as up, bytes_down as down from usage_daily
          where device_id = ${deviceId} and day >= (${from.toISOString()}::timestamptz at time zone 'utc')::date and day <= (${to.toISOString()}::timestamptz at time zone 'utc')::date
          order by day limit 1000`)
      : await this.database.rows<{ start: string, up: string | number, down: string | number }>(sql`
          select to_char(month, 'YYYY-MM-DD') as start, bytes_up as up, bytes_down as down from usage_monthly
          where device_id = ${deviceId} and month >= date_trunc('month', ${from.toISOString()}::timestamptz at time zone 'utc')::date and month <= (${to.toISOString()}::timestamptz at time zone 'utc')::date
          order by month limit 1000`)
    return rows.map((r) => ({ periodStart: r.start + 'T00:00:00.000Z', bytesUp: Number(r.up), bytesDown: Number(r.down) }))
  }

  /** The current-period use of the devices among `deviceIds` that have a plan. */
  async currentUse (deviceIds: readonly string[]): Promise<PlanUse[]> {
    if (deviceIds.length === 0) return []
    const rows = await this.database.rows<{ device_id: string, tenant_id: string, plan_id: string, quota_bytes: string | number, period: PlanPeriod, used: string | number }>(sql`
      select d.id as device_id, d.tenant_id, p.id as plan_id, p.quota_bytes, p.period,
        coalesce(case when p.period = 'day'
          then (select u.bytes_up + u.bytes_down from usage_daily u where u.device_id = d.id and u.day = ${periodStart('day')})
          else (select u.bytes_up + u.bytes_down from usage_monthly u where u.device_id = d.id and u.month = ${periodStart('month')}) end, 0) as used
      from devices d join plans p on p.id = d.plan_id
      where d.id = any(${textArray(deviceIds)})`)
    return rows.map((r) => ({ deviceId: r.device_id, tenantId: r.tenant_id, planId: r.plan_id, quotaBytes: Number(r.quota_bytes), period: r.period, usedBytes: Number(r.used) }))
  }

  /** Per plan of the tenant: devices on it, their use in the current period and how many are at or over
   * the quota; and the tenant's month so far over all its devices. */
  async summary (tenantId: string): Promise<{ plans: PlanSummary[], tenant: { devices: number, devicesWithPlan: number, monthUsedBytes: number, devicesOverQuota: number } }> {
    const rows = await this.database.rows<{ id: string, name: string, period: PlanPeriod, quota_bytes: string | number, devices: number, used: string | number, over: number }>(sql`
      with use as (
        select d.plan_id, d.id,
          coalesce(case when p.period = 'day'
            then (select u.bytes_up + u.bytes_down from usage_daily u where u.device_id = d.id and u.day = ${periodStart('day')})
            else (select u.bytes_up + u.bytes_down from usage_monthly u where u.device_id = d.id and u.month = ${periodStart('month')}) end, 0) as used,
          p.quota_bytes
        from devices d join plans p on p.id = d.plan_id where d.tenant_id = ${tenantId}
      )
      select p.id, p.name, p.period, p.quota_bytes, count(use.id)::int as devices, coalesce(sum(use.used), 0)::bigint as used,
        count(use.id) filter (where use.used >= use.quota_bytes)::int as over
      from plans p left join use on use.plan_id = p.id
      where p.tenant_id = ${tenantId}
      group by p.id order by p.name limit 1000`)
    const [totals] = await this.database.rows<{ devices: number, with_plan: number, used: string | number }>(sql`
      select count(*)::int as devices, count(d.plan_id)::int as with_plan,
        coalesce((select sum(u.bytes_up + u.bytes_down) from usage_monthly u join devices d2 on d2.id = u.device_id
          where d2.tenant_id = ${tenantId} and u.month = ${periodStart('month')}), 0)::bigint as used
      from devices d where d.tenant_id = ${tenantId}`)
    const summaries = rows.map((r) => ({ planId: r.id, name: r.name, period: r.period, quotaBytes: Number(r.quota_bytes), devices: r.devices, usedBytes: Number(r.used), devicesOverQuota: r.over }))
    return {
      plans: summaries,
      tenant: { devices: totals.devices, devicesWithPlan: totals.with_plan, monthUsedBytes: Number(totals.used), devicesOverQuota: summaries.reduce((n, p) => n + p.devicesOverQuota, 0) }
    }
  }
}
