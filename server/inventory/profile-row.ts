import type { ProfileRow, ProfileState } from '../db/schema/index.ts'

/** A `profiles` row as raw SQL (`returning *`) gives it. */
export function toProfileRow (raw: Record<string, unknown>): ProfileRow {
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

/** The data of a `profile.changed` event. */
export function profileEventData (p: ProfileRow) {
  return { deviceId: p.deviceId, eid: p.eid, iccid: p.iccid, state: p.state, cause: p.cause, seqNumber: p.seqNumber, reportedState: p.reportedState, conflict: p.conflict, operatorId: p.operatorId }
}
