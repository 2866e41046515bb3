import { and, desc, eq, gte, lt, lte, sql, type SQL } from 'drizzle-orm'
import type { Database, Db } from '../db/database.ts'
import { notifications, type NotificationRow } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'

/** A transaction of `Db` (the callback's argument of `db.transaction`). */
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

/** Reads of stored notifications, for the routes (the notification pipeline writes them through
 * `NotificationStore`). The profile inventory is `server/inventory/profile-inventory.ts`'s, the eUICC
 * certificates the hub holds `server/trust/euicc-certificates.ts`'s, operators
 * `server/inventory/operator-directory.ts`'s. */
export class EuiccRepository {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

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
