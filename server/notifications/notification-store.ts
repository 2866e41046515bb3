import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { devices, euiccCertificates, notificationInbox, notifications, type ProfileRow, type ProfileState } from '../db/schema/index.ts'
import { bigintArray, resultRows, textArray } from '../db/sql-values.ts'
import { unnestInsert, type UnnestColumn } from '../db/unnest-insert.ts'
import { notificationConflict } from './profile-conflict.ts'
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

export interface ProfileUpdate {
  eid: string
  iccid: string
  tenantId: string | null
  deviceId: string | null
  state: ProfileState
  seqNumber: number
  cause: string
  operatorId: string | null
}

export interface DeviceContext { id: string, tenantId: string, eid: string | null, euiccDer: Buffer | null, eumDer: Buffer | null }

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

const profileColumns: Array<UnnestColumn<ProfileUpdate>> = [
  { name: 'eid', type: 'text', value: (p) => p.eid },
  { name: 'iccid', type: 'text', value: (p) => p.iccid },
  { name: 'tenant_id', type: 'uuid', value: (p) => p.tenantId },
  { name: 'device_id', type: 'text', value: (p) => p.deviceId },
  { name: 'state', type: 'text', value: (p) => p.state },
  { name: 'seq_number', type: 'bigint', value: (p) => p.seqNumber },
  { name: 'cause', type: 'text', value: (p) => p.cause },
  { name: 'operator_id', type: 'text', value: (p) => p.operatorId }
]

/** The set-based reads and writes of the notification pipeline: each batch costs a few statements,
 * whatever its size. */
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

  /** Each device's registered EID and the eUICC certificate the hub holds for it. */
  async deviceContexts (deviceIds: readonly string[]): Promise<Map<string, DeviceContext>> {
    if (deviceIds.length === 0) return new Map()
    const rows = await this.db.select({ id: devices.id, tenantId: devices.tenantId, eid: devices.eid, euiccDer: euiccCertificates.euiccDer, eumDer: euiccCertificates.eumDer })
      .from(devices).leftJoin(euiccCertificates, eq(euiccCertificates.eid, devices.eid))
      .where(sql`${devices.id} = any(${textArray(deviceIds)})`)
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

  /** Applies state changes unless a profile already reflects a newer notification (at most one update
   * per profile: the caller keeps the highest seqNumber of each). */
  async applyProfiles (tx: Tx, updates: readonly ProfileUpdate[]): Promise<ProfileRow[]> {
    if (updates.length === 0) return []
    const result = await tx.execute<Record<string, unknown>>(unnestInsert('profiles', profileColumns, updates, sql`
      on conflict (eid, iccid) do update set state = excluded.state, seq_number = excluded.seq_number, cause = excluded.cause,
        changed_at = now(), tenant_id = coalesce(excluded.tenant_id, profiles.tenant_id), device_id = coalesce(excluded.device_id, profiles.device_id),
        operator_id = coalesce(excluded.operator_id, profiles.operator_id), conflict = ${notificationConflict(sql`excluded.state`)}
      where profiles.seq_number is null or profiles.seq_number < excluded.seq_number
      returning *`))
    return resultRows<Record<string, unknown>>(result).map(toProfileRow)
  }

  /** Enabling a profile disables the one enabled before it (an eUICC has one), unless that one changed
   * by a later notification. */
  async disableOthers (tx: Tx, eid: string, enabledIccid: string, seqNumber: number): Promise<ProfileRow[]> {
    const result = await tx.execute<Record<string, unknown>>(sql`update profiles set state = 'disabled', seq_number = ${seqNumber},
      cause = ${`implicit: ${enabledIccid} enabled (seq ${seqNumber})`}, changed_at = now(), conflict = ${notificationConflict(sql`'disabled'`)}
      where eid = ${eid} and state = 'enabled' and iccid <> ${enabledIccid} and (seq_number is null or seq_number < ${seqNumber})
      returning *`)
    return resultRows<Record<string, unknown>>(result).map(toProfileRow)
  }

  async saveCertificates (tx: Tx, certificates: ReadonlyArray<{ eid: string, euiccDer: Uint8Array, eumDer: Uint8Array | null }>): Promise<void> {
    for (const c of certificates) {
      const values = { eid: c.eid, euiccDer: Buffer.from(c.euiccDer), eumDer: c.eumDer === null ? null : Buffer.from(c.eumDer), source: 'notification' as const, updatedAt: new Date() }
      await tx.insert(euiccCertificates).values(values).onConflictDoUpdate({ target: euiccCertificates.eid, set: values })
    }
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

function toProfileRow (raw: Record<string, unknown>): ProfileRow {
  const date = (v: unknown) => v === null || v === undefined ? null : new Date(v as string)
  return {
    eid: raw.eid as string,
    iccid: raw.iccid as string,
    tenantId: raw.tenant_id as string | null,
    deviceId: raw.device_id as string | null,
    state: raw.state as ProfileState,
    seqNumber: raw.seq_number === null ? null : Number(raw.seq_number),
    cause: raw.cause as string,
    changedAt: date(raw.changed_at) as Date,
    reportedState: raw.reported_state as ProfileRow['reportedState'],
    reportedAt: date(raw.reported_at),
    conflict: raw.conflict as string | null,
    name: raw.name as string | null,
    spn: raw.spn as string | null,
    operatorId: raw.operator_id as string | null,
    fallback: raw.fallback as boolean
  }
}
