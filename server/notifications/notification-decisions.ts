import type { NotificationEffect } from '../inventory/profile-inventory.ts'
import type { Inspection, Verdict } from './notification-check.ts'
import type { NotificationRecord, NotificationStore } from './notification-store.ts'

/** The outcome of each notification of a batch, from its verdict and what the database holds: pure. */

export type NotificationSource = 'mqtt' | 'es9plus'
export interface NotificationDevice { id: string, tenantId: string }

export interface NotificationOutcome {
  status: 'accepted' | 'duplicate' | 'rejected'
  reason?: string
  detail?: string
  seqNumber?: number
  eid?: string
}

export interface Job {
  der: Buffer
  source: NotificationSource
  device: NotificationDevice | null
  inboxId: number | null
  /** The pool's inspection, started when the job arrived. */
  inspection: Promise<Inspection>
  /** Set from the inspection when the job's batch is prepared. */
  sha256: string
  resolve (outcome: NotificationOutcome): void
  reject (err: Error): void
}

export interface Decision {
  job: Job
  outcome: NotificationOutcome
  record: NotificationRecord | null
  owner: NotificationDevice | null
  verified: Extract<Verdict, { ok: true }> | null
}

type Stored = Awaited<ReturnType<NotificationStore['existing']>>

export interface BatchFacts {
  jobs: readonly Job[]
  verdicts: readonly Verdict[]
  claimed: ReadonlyArray<string | null>
  bound: ReadonlyArray<NotificationDevice | null>
  owners: Map<string, NotificationDevice>
  existing: Stored
}

/** Every job's decision. A byte-identical resend is answered like the stored original; the same bytes
 * twice in one batch get the first's answer and no row; a second accepted (EID, seqNumber) is a duplicate. */
export function decideBatch (facts: BatchFacts): Decision[] {
  const { jobs, bound } = facts
  const firstOf = new Map<string, Decision>()
  const seenAccepted = new Set<string>()
  return jobs.map((job, i) => {
    const stored = facts.existing.get(job.sha256)
    if (stored !== undefined) {
      const status = stored.status === 'rejected' ? 'rejected' : 'duplicate'
      return { job, outcome: { status, reason: stored.reason ?? undefined, seqNumber: stored.seqNumber ?? undefined, eid: stored.eid ?? undefined }, record: null, owner: bound[i], verified: null }
    }
    const first = firstOf.get(job.sha256)
    if (first !== undefined) {
      const status = first.outcome.status === 'rejected' ? 'rejected' : 'duplicate'
      return { job, outcome: { ...first.outcome, status }, record: null, owner: first.owner, verified: null }
    }
    const decision = decide(job, facts.verdicts[i], facts.claimed[i], facts.owners, bound[i])
    firstOf.set(job.sha256, decision)
    if (decision.outcome.status === 'accepted') {
      const key = `${decision.outcome.eid as string}:${decision.outcome.seqNumber as number}`
      if (seenAccepted.has(key)) return { ...decision, outcome: { ...decision.outcome, status: 'duplicate' }, record: null }
      seenAccepted.add(key)
    }
    return decision
  })
}

/** The outcome of one verified (or not) notification, and the row that records it. Over HTTP the device
 * is the one holding the EID (`bound`); over MQTT the device is the sender, and an EID another device
 * holds is refused. A rejected notification is shown to the tenant of the device it is bound to; one
 * bound to no device (ES9+, an EID no device holds, or none readable) is counted, not stored. */
function decide (job: Job, result: Verdict, claimed: string | null, owners: Map<string, NotificationDevice>, bound: NotificationDevice | null): Decision {
  const fields = result.fields
  const record = (status: 'accepted' | 'rejected', reason: string | null, detail: string | null, eid: string | null, owner: NotificationDevice | null): NotificationRecord =>
    ({ sha256: job.sha256, der: job.der, source: job.source, status, reason, detail, eid, tenantId: owner?.tenantId ?? null, deviceId: owner?.id ?? null, ...fields })
  const seqNumber = fields.seqNumber ?? undefined
  if (!result.ok) {
    const owner = bound
    const stored = owner === null ? null : record('rejected', result.reason, result.detail, claimed, owner)
    return { job, outcome: { status: 'rejected', reason: result.reason, detail: result.detail, seqNumber }, record: stored, owner, verified: null }
  }
  const holder = owners.get(result.eid) ?? null
  if (job.device !== null && holder !== null && holder.id !== job.device.id) {
    // Names neither the device nor the tenant holding the EID: the sender's tenant reads this.
    const detail = `EID ${result.eid} is registered to another device`
    return { job, outcome: { status: 'rejected', reason: 'eid-mismatch', detail, seqNumber }, record: record('rejected', 'eid-mismatch', detail, result.eid, job.device), owner: job.device, verified: null }
  }
  const owner = bound ?? holder
  return { job, outcome: { status: 'accepted', seqNumber, eid: result.eid }, record: record('accepted', null, null, result.eid, owner), owner, verified: result }
}

/** The profile an accepted notification names, for the inventory (a failed installation result names
 * none: it changes nothing). */
export function profileEffect (d: Decision): NotificationEffect[] {
  const { fields } = d.verified as Extract<Verdict, { ok: true }>
  const { operation, iccid, seqNumber } = fields
  if (iccid === null || operation === null || seqNumber === null) return []
  if (fields.kind === 'installation-result' && fields.result?.kind === 'error') return []
  return [{ eid: d.outcome.eid as string, iccid, operation, seqNumber, tenantId: d.owner?.tenantId ?? null, deviceId: d.owner?.id ?? null }]
}
