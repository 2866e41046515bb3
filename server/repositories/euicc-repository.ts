import { and, desc, eq, gte, isNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm'
import type { Database, Db } from '../db/database.ts'
import { devices, euiccCertificates, notifications, operators, profiles, type NotificationRow, type OperatorRow, type ProfileRow } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'
import { reportedConflict, reportWins } from '../notifications/profile-conflict.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

export interface NotificationQuery {
  tenantId: string
  deviceId?: string
  operation?: string
  status?: string
  reason?: string
  from?: Date
  to?: Date
  limit: number
  cursor?: string
}

/** A device's newest notification, as the device view shows it. */
export interface LastNotification {
  seqNumber: number | null
  operation: string | null
  status: 'accepted' | 'rejected'
  reason: string | null
  receivedAt: string
}

/** What the fleet table shows of a device's notifications. */
export interface NotificationSummary {
  lastNotification: LastNotification | null
  notificationCounts: { accepted: number, rejected: number }
}

/** Reads of notifications and the profile inventory, inventory reports, registered eUICC certificates
 * and operators (the notification pipeline writes through `NotificationStore`). */
export class EuiccRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async deviceEid (deviceId: string): Promise<string | null> {
    const [row] = await this.db.select({ eid: devices.eid }).from(devices).where(eq(devices.id, deviceId))
    return row?.eid ?? null
  }

  async operators (): Promise<OperatorRow[]> {
    return await this.db.select().from(operators).orderBy(operators.id)
  }

  transaction<T> (work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction(work)
  }

  async saveCertificate (tx: Tx, eid: string, euiccDer: Uint8Array, eumDer: Uint8Array | null, source: 'registered' | 'notification'): Promise<void> {
    const values = { eid, euiccDer: Buffer.from(euiccDer), eumDer: eumDer === null ? null : Buffer.from(eumDer), source, updatedAt: new Date() }
    await tx.insert(euiccCertificates).values(values).onConflictDoUpdate({ target: euiccCertificates.eid, set: values })
  }

  /** The device's inventory; deleted profiles only with `includeDeleted` (they stay as history). */
  async profilesOfDevice (tenantId: string, deviceId: string, eid: string | null, includeDeleted = false): Promise<ProfileRow[]> {
    const where = eid === null ? eq(profiles.deviceId, deviceId) : or(eq(profiles.eid, eid), eq(profiles.deviceId, deviceId))
    const present = includeDeleted ? undefined : ne(profiles.state, 'deleted')
    return await this.db.select().from(profiles).where(and(where, or(eq(profiles.tenantId, tenantId), isNull(profiles.tenantId)), present)).orderBy(profiles.iccid)
  }

  /** Records what an `inventory` report says. The device's report is its truth over what commands (and
   * earlier reports) set: such a profile takes the reported state, and one missing from the report is
   * deleted (cause `inventory`). A state set by a verified notification stays (a later notification with
   * a higher seqNumber changes it) and the disagreement is written to `conflict`. Unknown profiles are
   * added (cause `inventory`). A report for an EID another device holds changes nothing (returns null). */
  async applyInventory (tenantId: string, deviceId: string, eid: string, reported: Array<{ iccid: string, state: 'enabled' | 'disabled', name?: string, spn?: string, operatorId: string | null }>): Promise<ProfileRow[]> {
    return await this.db.transaction(async (tx) => {
      const [holder] = await tx.select({ id: devices.id }).from(devices).where(and(eq(devices.eid, eid), ne(devices.id, deviceId))).limit(1)
      if (holder !== undefined) return []
      const now = new Date()
      const changed: ProfileRow[] = []
      const wins = reportWins()
      for (const p of reported) {
        const [row] = await tx.insert(profiles).values({
          eid,
          iccid: p.iccid,
          tenantId,
          deviceId,
          state: p.state,
          seqNumber: null,
          cause: 'inventory',
          changedAt: now,
          reportedState: p.state,
          reportedAt: now,
          name: p.name ?? null,
          spn: p.spn ?? null,
          operatorId: p.operatorId
        }).onConflictDoUpdate({
          target: [profiles.eid, profiles.iccid],
          set: {
            state: sql`case when ${wins} then excluded.state else profiles.state end`,
            cause: sql`case when ${wins} and profiles.state <> excluded.state then 'inventory' else profiles.cause end`,
            changedAt: sql`case when ${wins} and profiles.state <> excluded.state then excluded.changed_at else profiles.changed_at end`,
            reportedState: p.state,
            reportedAt: now,
            name: sql`coalesce(excluded.name, ${profiles.name})`,
            spn: sql`coalesce(excluded.spn, ${profiles.spn})`,
            operatorId: sql`coalesce(${profiles.operatorId}, excluded.operator_id)`,
            deviceId,
            tenantId,
            conflict: sql`case when ${wins} then null else ${reportedConflict(sql`profiles.state`, sql`excluded.reported_state`, 'notifications say')} end`
          }
        }).returning()
        changed.push(row)
      }
      const listed = reported.map((p) => p.iccid)
      const notListed = listed.length > 0 ? sql`not (${profiles.iccid} = any(${textArray(listed)}))` : sql`true`
      const missing = await tx.update(profiles).set({
        state: sql`case when ${wins} then 'deleted' else profiles.state end`,
        cause: sql`case when ${wins} then 'inventory' else profiles.cause end`,
        changedAt: sql`case when ${wins} then ${now.toISOString()}::timestamptz else profiles.changed_at end`,
        reportedState: 'absent',
        reportedAt: now,
        conflict: sql`case when ${wins} then null else ${reportedConflict(sql`profiles.state`, sql`'absent'`, 'notifications say')} end`
      }).where(and(eq(profiles.eid, eid), notListed, sql`(profiles.state <> 'deleted' or profiles.reported_state is distinct from 'absent')`)).returning()
      return [...changed, ...missing]
    })
  }

  /** The newest notification and the accepted/rejected counts of each device, for a page of devices in
   * one query (devices without notifications are absent from the map). */
  async notificationSummaryOf (deviceIds: readonly string[]): Promise<Map<string, NotificationSummary>> {
    const summaries = new Map<string, NotificationSummary>()
    if (deviceIds.length === 0) return summaries
    // received_at first so that the (device_id, received_at) index gives the newest row without a sort
    const rows = await this.database.rows<Record<string, unknown>>(sql`
      select d.id as device_id, c.accepted, c.rejected, l.seq_number, l.operation, l.status, l.reason, l.received_at
      from unnest(${textArray(deviceIds)}) as d(id)
      cross join lateral (
        select count(*) filter (where status = 'accepted')::int as accepted, count(*) filter (where status = 'rejected')::int as rejected
        from notifications where device_id = d.id) c
      left join lateral (
        select seq_number, operation, status, reason, received_at from notifications
        where device_id = d.id order by received_at desc, id desc limit 1) l on true
      where l.status is not null`)
    for (const row of rows) {
      summaries.set(String(row.device_id), {
        lastNotification: {
          seqNumber: row.seq_number === null ? null : Number(row.seq_number),
          operation: row.operation as string | null,
          status: row.status as LastNotification['status'],
          reason: row.reason as string | null,
          receivedAt: new Date(row.received_at as string | Date).toISOString()
        },
        notificationCounts: { accepted: Number(row.accepted), rejected: Number(row.rejected) }
      })
    }
    return summaries
  }

  async listNotifications (query: NotificationQuery): Promise<{ items: NotificationRow[], nextCursor: string | null }> {
    const where: SQL[] = [eq(notifications.tenantId, query.tenantId)]
    if (query.deviceId !== undefined) where.push(eq(notifications.deviceId, query.deviceId))
    if (query.operation !== undefined) where.push(eq(notifications.operation, query.operation))
    if (query.status !== undefined) where.push(eq(notifications.status, query.status as NotificationRow['status']))
    if (query.reason !== undefined) where.push(eq(notifications.reason, query.reason))
    if (query.from !== undefined) where.push(gte(notifications.receivedAt, query.from))
    if (query.to !== undefined) where.push(lte(notifications.receivedAt, query.to))
    if (query.cursor !== undefined) where.push(lt(notifications.id, Number(decodeCursor(query.cursor, 1)[0])))
    const rows = await this.db.select().from(notifications).where(and(...where)).orderBy(desc(notifications.id)).limit(query.limit + 1)
    const items = rows.slice(0, query.limit)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.id]) : null }
  }
}
