import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { devices, notificationInbox, notifications } from '../db/schema/index.ts'
import { bigintArray, resultRows, textArray } from '../db/sql-values.ts'
import { unnestInsert, type UnnestColumn } from '../db/unnest-insert.ts'
import type { Tx } from '../repositories/euicc-repository.ts'

export interface NotificationRecord {
  sha256: string
  der: Buffer
  source: 'mqtt' | 'es9plus'
  status: 'accepted' | 'rejected'
  reason: string | null
  detail: string | null
  tenantId: string | null
  deviceId: string | null
  eid: string | null
  seqNumber: number | null
  kind: string | null
  operation: string | null
  iccid: string | null
  notificationAddress: string | null
  result: Record<string, unknown> | null
}

/** A bound device: its tenant and registered EID. */
export interface DeviceContext { id: string, tenantId: string, eid: string | null }

const recordColumns: Array<UnnestColumn<NotificationRecord>> = [
  { name: 'sha256', type: 'text', value: (r) => r.sha256 },
  { name: 'der', type: 'bytea', value: (r) => r.der },
  { name: 'source', type: 'text', value: (r) => r.source },
  { name: 'status', type: 'text', value: (r) => r.status },
  { name: 'reason', type: 'text', value: (r) => r.reason },
  { name: 'detail', type: 'text', value: (r) => r.detail },
  { name: 'tenant_id', type: 'uuid', value: (r) => r.tenantId },
  { name: 'device_id', type: 'text', value: (r) => r.deviceId },
  { name: 'eid', type: 'text', value: (r) => r.eid },
  { name: 'seq_number', type: 'bigint', value: (r) => r.seqNumber },
  { name: 'kind', type: 'text', value: (r) => r.kind },
  { name: 'operation', type: 'text', value: (r) => r.operation },
  { name: 'iccid', type: 'text', value: (r) => r.iccid },
  { name: 'notification_address', type: 'text', value: (r) => r.notificationAddress },
  { name: 'result', type: 'jsonb', value: (r) => r.result }
]

/** The set-based reads and writes of the notification pipeline on its own tables (`notifications`,
 * `notification_inbox`) and the EIDs it learns for devices: each batch costs a few statements, whatever
 * its size. Profile changes are the inventory's (`server/inventory/profile-inventory.ts`), certificates
 * the hub holds are `server/trust/euicc-certificates.ts`'s. */
export class NotificationStore {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async inbox (der: Buffer): Promise<number> {
    const [row] = await this.db.insert(notificationInbox).values({ der }).returning({ id: notificationInbox.id })
    return row.id
  }

  async inboxRows (): Promise<Array<{ id: number, der: Buffer }>> {
    return await this.db.select({ id: notificationInbox.id, der: notificationInbox.der }).from(notificationInbox).orderBy(notificationInbox.id)
  }

  /** Each device's tenant and registered EID. */
  async deviceContexts (deviceIds: readonly string[]): Promise<Map<string, DeviceContext>> {
    if (deviceIds.length === 0) return new Map()
    const rows = await this.db.select({ id: devices.id, tenantId: devices.tenantId, eid: devices.eid })
      .from(devices).where(sql`${devices.id} = any(${textArray(deviceIds)})`)
    return new Map(rows.map((r) => [r.id, r]))
  }

  async devicesByEid (eids: readonly string[]): Promise<Map<string, { id: string, tenantId: string }>> {
    if (eids.length === 0) return new Map()
    const rows = await this.db.select({ id: devices.id, tenantId: devices.tenantId, eid: devices.eid }).from(devices)
      .where(sql`${devices.eid} = any(${textArray(eids)})`)
    return new Map(rows.map((r) => [r.eid as string, { id: r.id, tenantId: r.tenantId }]))
  }

  /** Stored notifications with these hashes: a byte-identical resend is answered from them. */
  async existing (hashes: readonly string[]): Promise<Map<string, { status: 'accepted' | 'rejected', reason: string | null, seqNumber: number | null, eid: string | null, tenantId: string | null, deviceId: string | null }>> {
    if (hashes.length === 0) return new Map()
    const rows = await this.db.select({ sha256: notifications.sha256, status: notifications.status, reason: notifications.reason, seqNumber: notifications.seqNumber, eid: notifications.eid, tenantId: notifications.tenantId, deviceId: notifications.deviceId })
      .from(notifications).where(sql`${notifications.sha256} = any(${textArray(hashes)})`)
    return new Map(rows.map(({ sha256, ...rest }) => [sha256, rest]))
  }

  transaction<T> (work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction(work)
  }

  /** Inserts the records; one that collides with a stored one (same bytes, or an accepted one with the
   * same EID and seqNumber) is skipped. Returns the hashes actually inserted. */
  async insert (tx: Tx, records: readonly NotificationRecord[]): Promise<Set<string>> {
    if (records.length === 0) return new Set()
    const rows = await tx.execute<{ sha256: string }>(unnestInsert('notifications', recordColumns, records, sql`on conflict do nothing returning sha256`))
    return new Set(resultRows<{ sha256: string }>(rows).map((r) => r.sha256))
  }

  async learnEids (tx: Tx, learned: ReadonlyArray<{ deviceId: string, eid: string }>): Promise<void> {
    for (const { deviceId, eid } of learned) {
      await tx.update(devices).set({ eid, updatedAt: new Date() }).where(and(eq(devices.id, deviceId), sql`${devices.eid} is null`))
    }
  }

  async clearInbox (tx: Tx, ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await tx.delete(notificationInbox).where(sql`${notificationInbox.id} = any(${bigintArray(ids)})`)
  }
}
