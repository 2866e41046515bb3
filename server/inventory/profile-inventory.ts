import { and, eq, isNull, ne, or, sql } from 'drizzle-orm'
import type { NotificationOperation } from '../../esim/pending-notification.ts'
import type { Database } from '../db/database.ts'
import { devices, profiles, type CommandRow, type ProfileRow, type ProfileState } from '../db/schema/index.ts'
import { bigintArray, resultRows, textArray } from '../db/sql-values.ts'
import { unnestInsert, type UnnestColumn } from '../db/unnest-insert.ts'
import type { Tx } from '../repositories/euicc-repository.ts'
import type { OperatorDirectory } from './operator-directory.ts'
import { cause, notificationConflict, reportedConflict, reportWins } from './profile-conflict.ts'
import { toProfileRow } from './profile-row.ts'

/** An accepted (verified) notification that names a profile; a failed installation result is not one. */
export interface NotificationEffect {
  eid: string
  iccid: string
  operation: NotificationOperation
  seqNumber: number
  tenantId: string | null
  deviceId: string | null
}

/** A profile as a device reports it (an `inventory` report, or the list a `listProfiles` command returns). */
export interface ReportedProfile { iccid: string, state: 'enabled' | 'disabled', name?: string, spn?: string }

/** What a command that succeeded tells the inventory beyond its op and ICCID. */
export interface CommandEffect {
  /** download: the ICCID the device names for the installed profile (null: none, or not an ICCID). */
  downloadedIccid: string | null
  /** listProfiles: the profiles the device lists (null: no list). */
  listed: readonly ReportedProfile[] | null
}

/** A report the inventory refuses: it names an EID that is not the device's. */
export type ReportOutcome = { ok: true, changed: ProfileRow[] } | { ok: false, reason: 'eid-mismatch', detail: string }

/** What each notification operation does to the profile it names. */
const STATE_AFTER: Partial<Record<NotificationOperation, ProfileState>> = {
  install: 'disabled', // installed and not enabled
  enable: 'enabled',
  disable: 'disabled',
  delete: 'deleted',
  rpmEnable: 'enabled',
  rpmDisable: 'disabled',
  rpmDelete: 'deleted'
}

interface NotifiedState { eid: string, iccid: string, tenantId: string | null, deviceId: string | null, state: ProfileState, seqNumber: number, cause: string, operatorId: string | null }

const notifiedColumns: Array<UnnestColumn<NotifiedState>> = [
  { name: 'eid', type: 'text', value: (p) => p.eid },
  { name: 'iccid', type: 'text', value: (p) => p.iccid },
  { name: 'tenant_id', type: 'uuid', value: (p) => p.tenantId },
  { name: 'device_id', type: 'text', value: (p) => p.deviceId },
  { name: 'state', type: 'text', value: (p) => p.state },
  { name: 'seq_number', type: 'bigint', value: (p) => p.seqNumber },
  { name: 'cause', type: 'text', value: (p) => p.cause },
  { name: 'operator_id', type: 'text', value: (p) => p.operatorId }
]

/** The profile inventory (`profiles`, one row per EID and ICCID): every write to the table, and the
 * rules between its three writers (docs/notifications.md "Profile inventory", docs/operations.md
 * "Effects on the inventory"):
 * - verified notifications, applied by seqNumber (a row only moves forward), in the notification
 *   pipeline's transaction; a notification contradicting a command's state wins and says so in `conflict`;
 * - the device's reports (`inventory`, a `listProfiles` result): its truth over what commands and earlier
 *   reports set, while a state a notification set stays and gets a `conflict` where the two disagree;
 * - succeeded commands, in the transaction that ends the command (no seqNumber: the notifications that
 *   follow confirm them).
 * Enabling a profile disables the one enabled before (one per eUICC), by notification or by command.
 * Causes and the conflict rule are in `profile-conflict.ts`. */
export class ProfileInventory {
  constructor (private readonly database: Database, private readonly operators: OperatorDirectory) {}

  /** A device's inventory; deleted profiles only with `includeDeleted` (they stay as history). */
  async ofDevice (tenantId: string, deviceId: string, eid: string | null, includeDeleted = false): Promise<ProfileRow[]> {
    const where = eid === null ? eq(profiles.deviceId, deviceId) : or(eq(profiles.eid, eid), eq(profiles.deviceId, deviceId))
    const present = includeDeleted ? undefined : ne(profiles.state, 'deleted')
    return await this.database.db.select().from(profiles).where(and(where, or(eq(profiles.tenantId, tenantId), isNull(profiles.tenantId)), present)).orderBy(profiles.iccid)
  }

  /** Applies a batch's accepted notifications in the caller's transaction: per profile the one with the
   * highest seqNumber, and only over a row that reflects an older one; then, in seqNumber order, each
   * enable disables the profile enabled before unless that one changed by a later notification. */
  async applyNotifications (tx: Tx, effects: readonly NotificationEffect[]): Promise<ProfileRow[]> {
    const states = latestPerProfile(effects.flatMap((e) => {
      const state = STATE_AFTER[e.operation]
      if (state === undefined) return []
      return [{ eid: e.eid, iccid: e.iccid, tenantId: e.tenantId, deviceId: e.deviceId, state, seqNumber: e.seqNumber, cause: cause.notification(e.operation, e.seqNumber), operatorId: this.operators.byIccid(e.iccid)?.id ?? null }]
    }))
    if (states.length === 0) return []
    const result = await tx.execute<Record<string, unknown>>(unnestInsert('profiles', notifiedColumns, states, sql`
      on conflict (eid, iccid) do update set state = excluded.state, seq_number = excluded.seq_number, cause = excluded.cause,
        changed_at = now(), tenant_id = coalesce(excluded.tenant_id, profiles.tenant_id), device_id = coalesce(excluded.device_id, profiles.device_id),
        operator_id = coalesce(excluded.operator_id, profiles.operator_id), conflict = ${notificationConflict(sql`excluded.state`)}
      where profiles.seq_number is null or profiles.seq_number < excluded.seq_number
      returning *`))
    const changed = resultRows<Record<string, unknown>>(result).map(toProfileRow)
    for (const round of enableRounds(states)) changed.push(...await this.disableOthersByNotification(tx, round))
    return changed
  }

  /** The implicit disable of notified enables, for a round of them on distinct eUICCs in one statement:
   * only rows older than the enable's seqNumber, which they then take (and the conflict rule). An enable
   * touches only its own eUICC's rows, so the rounds keep each eUICC's seqNumber order. */
  private async disableOthersByNotification (tx: Tx, round: ReadonlyArray<{ eid: string, iccid: string, seqNumber: number }>): Promise<ProfileRow[]> {
    const result = await tx.execute<Record<string, unknown>>(sql`
      update profiles set state = 'disabled', seq_number = e.enabled_seq, cause = e.implicit_cause, changed_at = now(),
        conflict = ${notificationConflict(sql`'disabled'`)}
      from unnest(${textArray(round.map((r) => r.eid))}, ${textArray(round.map((r) => r.iccid))}, ${bigintArray(round.map((r) => r.seqNumber))},
        ${textArray(round.map((r) => cause.implicit(r.iccid, r.seqNumber)))}) as e(enabled_eid, enabled_iccid, enabled_seq, implicit_cause)
      where profiles.eid = e.enabled_eid and profiles.state = 'enabled' and profiles.iccid <> e.enabled_iccid
        and (profiles.seq_number is null or profiles.seq_number < e.enabled_seq)
      returning profiles.*`)
    return resultRows<Record<string, unknown>>(result).map(toProfileRow)
  }

  /** Reconciles a device's `inventory` report, in a transaction of its own. Refused (nothing changes) when
   * the report names an EID other than the device's registered one, or, for a device without one, an EID
   * another device holds. */
  async applyReport (device: { id: string, tenantId: string }, eid: string, reported: readonly ReportedProfile[]): Promise<ReportOutcome> {
    return await this.database.db.transaction((tx) => this.reconcile(tx, device, eid, reported))
  }

  /** Applies a succeeded command in the transaction that ends it (cause `command: <op> <id>`): enable (the
   * profile enabled before becomes disabled), disable, delete, setFallback/unsetFallback, download (the
   * named profile is installed and not enabled: `disabled`), listProfiles (the list, like a report). */
  async applyCommand (tx: Tx, row: CommandRow, effect: CommandEffect): Promise<ProfileRow[]> {
    const eid = row.eid
    if (eid === null) return []
    const commandCause = cause.command(row.op, row.id)
    const now = new Date()
    const upsert = async (iccid: string, state: ProfileState): Promise<ProfileRow[]> => {
      const conflict = reportedConflict(sql`${state}::text`, sql`profiles.reported_state`, 'the command says')
      return await tx.insert(profiles).values({ eid, iccid, tenantId: row.tenantId, deviceId: row.deviceId, state, seqNumber: null, cause: commandCause, changedAt: now, operatorId: this.operators.byIccid(iccid)?.id ?? null })
        .onConflictDoUpdate({ target: [profiles.eid, profiles.iccid], set: { state, cause: commandCause, changedAt: now, conflict, deviceId: row.deviceId, tenantId: row.tenantId } })
        .returning()
    }
    switch (row.op) {
      case 'enable': {
        const others = await this.disableOthersByCommand(tx, eid, row.iccid as string, commandCause, now)
        return [...others, ...await upsert(row.iccid as string, 'enabled')]
      }
      case 'disable': return await upsert(row.iccid as string, 'disabled')
      case 'delete': return await upsert(row.iccid as string, 'deleted')
      case 'setFallback': {
        const cleared = await tx.update(profiles).set({ fallback: false }).where(and(eq(profiles.eid, eid), eq(profiles.fallback, true), ne(profiles.iccid, row.iccid as string))).returning()
        const set = await tx.update(profiles).set({ fallback: true, cause: commandCause, changedAt: now }).where(and(eq(profiles.eid, eid), eq(profiles.iccid, row.iccid as string))).returning()
        return [...cleared, ...set]
      }
      case 'unsetFallback':
        return await tx.update(profiles).set({ fallback: false, cause: commandCause, changedAt: now })
          .where(and(eq(profiles.eid, eid), row.iccid === null ? eq(profiles.fallback, true) : eq(profiles.iccid, row.iccid))).returning()
      case 'download':
        return effect.downloadedIccid === null ? [] : await upsert(effect.downloadedIccid, 'disabled')
      case 'listProfiles': {
        if (effect.listed === null) return []
        const outcome = await this.reconcile(tx, { id: row.deviceId, tenantId: row.tenantId }, eid, effect.listed)
        return outcome.ok ? outcome.changed : []
      }
    }
  }

  /** The implicit disable of a command's enable: whatever else was enabled on `eid` becomes disabled
   * (cause `… (implicit)`). A notified enable's is `disableOthersByNotification`. */
  private async disableOthersByCommand (tx: Tx, eid: string, enabledIccid: string, commandCause: string, at: Date): Promise<ProfileRow[]> {
    return await tx.update(profiles).set({ state: 'disabled', cause: cause.commandImplicit(commandCause), changedAt: at })
      .where(and(eq(profiles.eid, eid), eq(profiles.state, 'enabled'), ne(profiles.iccid, enabledIccid))).returning()
  }

  /** A report is the device's truth over what commands (and earlier reports) set: such a profile takes the
   * reported state, and one missing from the report is deleted (cause `inventory`). A state set by a
   * verified notification stays (a later notification with a higher seqNumber changes it) and the
   * disagreement is written to `conflict`. Unknown profiles are added (cause `inventory`). */
  private async reconcile (tx: Tx, device: { id: string, tenantId: string }, eid: string, reported: readonly ReportedProfile[]): Promise<ReportOutcome> {
    const named = await tx.select({ id: devices.id, eid: devices.eid }).from(devices).where(or(eq(devices.id, device.id), eq(devices.eid, eid)))
    const registered = named.find((d) => d.id === device.id)?.eid ?? null
    if (registered !== null && registered !== eid) return { ok: false, reason: 'eid-mismatch', detail: `the report's EID ${eid} is not the device's ${registered}` }
    // Names neither the device nor the tenant holding the EID: the reporting device's tenant reads this.
    if (named.some((d) => d.id !== device.id)) return { ok: false, reason: 'eid-mismatch', detail: `EID ${eid} is registered to another device` }
    const now = new Date()
    const changed: ProfileRow[] = []
    const wins = reportWins()
    for (const p of reported) {
      const [row] = await tx.insert(profiles).values({
        eid,
        iccid: p.iccid,
        tenantId: device.tenantId,
        deviceId: device.id,
        state: p.state,
        seqNumber: null,
        cause: cause.inventory,
        changedAt: now,
        reportedState: p.state,
        reportedAt: now,
        name: p.name ?? null,
        spn: p.spn ?? null,
        operatorId: this.operators.byIccid(p.iccid)?.id ?? null
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
          deviceId: device.id,
          tenantId: device.tenantId,
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
    return { ok: true, changed: [...changed, ...missing] }
  }
}

/** Keeps, for each profile, only the change with the highest seqNumber. */
function latestPerProfile<T extends { eid: string, iccid: string, seqNumber: number }> (states: T[]): T[] {
  const latest = new Map<string, T>()
  for (const s of states) {
    const key = `${s.eid}:${s.iccid}`
    const current = latest.get(key)
    if (current === undefined || current.seqNumber < s.seqNumber) latest.set(key, s)
  }
  return [...latest.values()]
}

/** The enables among `states`, in rounds: round k holds each eUICC's k-th enable by seqNumber, so one
 * statement per round applies them in each eUICC's order (a batch of many eUICCs takes a few statements,
 * not one per enable). */
export function enableRounds<T extends { eid: string, state: string, seqNumber: number }> (states: readonly T[]): T[][] {
  const perEuicc = new Map<string, T[]>()
  for (const s of states) {
    if (s.state !== 'enabled') continue
    const list = perEuicc.get(s.eid)
    if (list === undefined) perEuicc.set(s.eid, [s])
    else list.push(s)
  }
  const rounds: T[][] = []
  for (const list of perEuicc.values()) {
    list.sort((a, b) => a.seqNumber - b.seqNumber)
    for (const [k, s] of list.entries()) (rounds[k] ??= []).push(s)
  }
  return rounds
}
