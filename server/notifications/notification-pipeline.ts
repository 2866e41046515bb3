import { X509Certificate } from 'node:crypto'
import type { HubEvent } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { ProfileRow } from '../db/schema/index.ts'
import type { ProfileInventory, NotificationEffect } from '../inventory/profile-inventory.ts'
import { profileEventData } from '../inventory/profile-row.ts'
import type { HubMetrics } from '../metrics.ts'
import type { EuiccCertificates, HeldCertificate } from '../trust/euicc-certificates.ts'
import type { TrustStore } from '../trust/trust-store.ts'
import type { AnchorSet, CheckInput, Verdict } from './notification-check.ts'
import type { DeviceContext, NotificationRecord, NotificationStore } from './notification-store.ts'
import type { VerifyPool } from './verify-pool.ts'

export type NotificationSource = 'mqtt' | 'es9plus'
export interface NotificationDevice { id: string, tenantId: string }

export interface NotificationPipelineDeps {
  store: NotificationStore
  /** Profile changes, applied in the batch's transaction. */
  inventory: ProfileInventory
  /** Certificates held for installation results; those of accepted notifications are learned. */
  certificates: EuiccCertificates
  trust: TrustStore
  bus: EventBus
  metrics: HubMetrics
  /** Decoding and verification, off the event loop. */
  pool: VerifyPool
  /** A batch that failed (it stays in the inbox when it came over ES9+). */
  onError (err: Error): void
}

export interface NotificationOutcome {
  status: 'accepted' | 'duplicate' | 'rejected'
  reason?: string
  detail?: string
  seqNumber?: number
  eid?: string
}

const MAX_BATCH = 500

interface Job {
  der: Buffer
  /** Set by the pool's inspection, when the job's batch starts. */
  sha256: string
  source: NotificationSource
  device: NotificationDevice | null
  inboxId: number | null
  resolve (outcome: NotificationOutcome): void
  reject (err: Error): void
}

interface Decision {
  job: Job
  outcome: NotificationOutcome
  record: NotificationRecord | null
  owner: NotificationDevice | null
  verified: Extract<Verdict, { ok: true }> | null
}

/** One pipeline for both ways in (MQTT `devices/{id}/notifications` and ES9+ handleNotification). Work
 * is taken in batches: a few set-based reads, the verifications (over the exact received bytes; chains
 * cached), then one transaction that records every outcome, deduplicates (SHA-256 of the DER; (EID,
 * seqNumber) of accepted ones), updates the profile inventory in seqNumber order and clears the ES9+
 * inbox. Callers hear the outcome after the commit; events are published after it too. Batches run one
 * at a time, so a device's notifications are applied in the order they arrived. */
export class NotificationPipeline {
  private queue: Job[] = []
  private running = false
  private readonly idle: Array<() => void> = []
  /** Names for trust anchor certificates: a set of anchors is known to the workers by its names. */
  private readonly anchorIds = new WeakMap<X509Certificate, number>()
  private nextAnchorId = 1
  private readonly store: NotificationStore
  private readonly inventory: ProfileInventory
  private readonly certificates: EuiccCertificates
  private readonly trust: TrustStore
  private readonly bus: EventBus
  private readonly metrics: HubMetrics
  private readonly pool: VerifyPool
  private readonly onError: (err: Error) => void

  constructor (deps: NotificationPipelineDeps) {
    this.store = deps.store
    this.inventory = deps.inventory
    this.certificates = deps.certificates
    this.trust = deps.trust
    this.bus = deps.bus
    this.metrics = deps.metrics
    this.pool = deps.pool
    this.onError = (err) => { deps.onError(err) }
  }

  /** Processes a notification; resolves with its outcome once committed (the MQTT path acks then). */
  submit (der: Buffer, source: NotificationSource, device: NotificationDevice | null, inboxId: number | null = null): Promise<NotificationOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ der, sha256: '', source, device, inboxId, resolve, reject })
      this.schedule()
    })
  }

  /** ES9+: commits the raw notification to the inbox (the 204 goes out after this), then processes it. */
  async receive (der: Buffer): Promise<void> {
    const inboxId = await this.store.inbox(der)
    this.submit(der, 'es9plus', null, inboxId).catch(this.onError)
  }

  /** Processes what a previous run committed to the inbox but did not finish. */
  async recoverInbox (): Promise<number> {
    const rows = await this.store.inboxRows()
    await Promise.all(rows.map((row) => this.submit(row.der, 'es9plus', null, row.id)))
    return rows.length
  }

  /** Waits until every queued notification is processed. */
  async close (): Promise<void> {
    if (!this.running && this.queue.length === 0) return
    await new Promise<void>((resolve) => this.idle.push(resolve))
  }

  private schedule (): void {
    if (this.running) return
    this.running = true
    setImmediate(() => { this.drain().catch(this.onError) })
  }

  private async drain (): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH)
      try {
        await this.processBatch(batch)
      } catch (err) {
        for (const job of batch) job.reject(err as Error)
      }
    }
    this.running = false
    for (const resolve of this.idle.splice(0)) resolve()
  }

  private async processBatch (jobs: Job[]): Promise<void> {
    // Each notification is bound to a device before it is verified: over MQTT the sender, over ES9+ the
    // device holding the EID its certificate names (EIDs are unique hub-wide). The device's tenant
    // decides which anchors are trusted: the platform's plus that tenant's.
    const inspections = await this.pool.inspect(jobs.map((job) => job.der))
    for (const [i, job] of jobs.entries()) job.sha256 = inspections[i].sha256
    const claimed = inspections.map((inspection) => inspection.claimedEid)
    const claimedEids = [...new Set(claimed.flatMap((eid) => eid === null ? [] : [eid]))]
    const [owners, existing] = await Promise.all([
      this.store.devicesByEid(claimedEids),
      this.store.existing(jobs.map((j) => j.sha256))
    ])
    const bound = jobs.map((job, i) => job.device ?? (claimed[i] === null ? null : owners.get(claimed[i] as string) ?? null))
    const contexts = await this.store.deviceContexts([...new Set(bound.flatMap((d) => d === null ? [] : [d.id]))])
    for (const c of contexts.values()) if (c.eid !== null && !owners.has(c.eid)) owners.set(c.eid, { id: c.id, tenantId: c.tenantId })
    const held = await this.certificates.held([...contexts.values()].flatMap((c) => c.eid === null ? [] : [c.eid]))
    const sets: AnchorSet[] = []
    const setAt = new Map<string, number>()
    const inputs = jobs.map((job, i) => {
      const context = bound[i] === null ? null : contexts.get((bound[i] as NotificationDevice).id) ?? null
      return this.input(job, context, context?.eid === null || context === null ? null : held.get(context.eid) ?? null, this.anchorSet(bound[i]?.tenantId ?? null, sets, setAt))
    })
    const results = await this.pool.check(sets, inputs)

    const firstOf = new Map<string, Decision>()
    const seenAccepted = new Set<string>()
    const decisions: Decision[] = jobs.map((job, i) => {
      const stored = existing.get(job.sha256)
      if (stored !== undefined) {
        // A byte-identical resend: answered like the original (a duplicate of an accepted one).
        const status = stored.status === 'rejected' ? 'rejected' : 'duplicate'
        return { job, outcome: { status, reason: stored.reason ?? undefined, seqNumber: stored.seqNumber ?? undefined, eid: stored.eid ?? undefined }, record: null, owner: bound[i], verified: null }
      }
      const first = firstOf.get(job.sha256)
      if (first !== undefined) {
        // The same bytes twice in one batch: the second gets the first's answer, and no row of its own.
        const status = first.outcome.status === 'rejected' ? 'rejected' : 'duplicate'
        return { job, outcome: { ...first.outcome, status }, record: null, owner: first.owner, verified: null }
      }
      const decision = this.decide(job, results[i], claimed[i], owners, bound[i])
      firstOf.set(job.sha256, decision)
      if (decision.outcome.status === 'accepted') {
        const key = `${decision.outcome.eid as string}:${decision.outcome.seqNumber as number}`
        if (seenAccepted.has(key)) return { ...decision, outcome: { ...decision.outcome, status: 'duplicate' }, record: null }
        seenAccepted.add(key)
      }
      return decision
    })

    const events: HubEvent[] = []
    const rememberLearned = await this.store.transaction(async (tx) => {
      const inserted = await this.store.insert(tx, decisions.flatMap((d) => d.record === null ? [] : [d.record]))
      for (const d of decisions) {
        // Not inserted: an accepted notification with the same (EID, seqNumber) was already stored.
        if (d.record !== null && !inserted.has(d.record.sha256)) d.outcome = { ...d.outcome, status: 'duplicate' }
      }
      const accepted = decisions.filter((d) => d.outcome.status === 'accepted' && d.verified !== null)
      const changed: ProfileRow[] = await this.inventory.applyNotifications(tx, accepted.flatMap((d) => profileEffect(d)))
      const learned = await this.certificates.learn(tx, accepted.flatMap((d) => {
        const v = d.verified as Extract<Verdict, { ok: true }>
        return v.euiccCertificateDer !== undefined ? [{ eid: v.eid, euiccDer: v.euiccCertificateDer, eumDer: v.eumCertificateDer ?? null }] : []
      }))
      await this.store.learnEids(tx, accepted.flatMap((d) => {
        const context = d.job.device === null ? undefined : contexts.get(d.job.device.id)
        return context !== undefined && context.eid === null ? [{ deviceId: context.id, eid: d.outcome.eid as string }] : []
      }))
      await this.store.clearInbox(tx, jobs.flatMap((j) => j.inboxId === null ? [] : [j.inboxId]))
      for (const p of changed) if (p.tenantId !== null) events.push({ type: 'profile.changed', tenantId: p.tenantId, data: profileEventData(p) })
      return learned
    })
    rememberLearned() // committed: this process need not write these certificates again

    for (const d of decisions) {
      this.metrics.notifications.inc({ status: d.outcome.status, reason: d.outcome.reason ?? '' })
      if (d.outcome.status === 'rejected' && d.owner === null) this.metrics.notificationsUnbound.inc({ reason: d.outcome.reason ?? '' })
      if (d.owner !== null) {
        this.bus.publish({
          type: 'notification',
          tenantId: d.owner.tenantId,
          data: { id: null, deviceId: d.owner.id, eid: d.outcome.eid ?? null, seqNumber: d.outcome.seqNumber ?? null, operation: d.record?.operation ?? null, status: d.outcome.status, reason: d.outcome.reason ?? null }
        })
      }
      d.job.resolve(d.outcome)
    }
    for (const event of events) this.bus.publish(event)
  }

  /** What a worker needs to verify a job: its bytes, its device's EID and held certificate, its anchors. */
  private input (job: Job, context: DeviceContext | null, held: HeldCertificate | null, anchors: number): CheckInput {
    // Installation results carry no certificate: the one the hub holds for the device's EID is used, with
    // its EUM certificate, and its whole chain is verified again against this device's anchors (a
    // certificate held without its EUM's cannot be, and verifies nothing).
    const known = held === null || held.eumDer === null ? undefined : { euiccCertificate: held.euiccDer, eumCertificate: held.eumDer }
    return { der: job.der, anchors, ...(context === null || context.eid === null ? {} : { expectedEid: context.eid }), ...(known === undefined ? {} : { known }) }
  }

  /** The index in `sets` of the anchors trusted for a device of `tenantId` (the platform's, and the
   * tenant's). A set is named by its certificates, so the workers' chains verified against an older set
   * are not used once the anchors change. */
  private anchorSet (tenantId: string | null, sets: AnchorSet[], setAt: Map<string, number>): number {
    const anchors = this.trust.anchors(tenantId)
    const key = anchors.map((cert) => {
      let id = this.anchorIds.get(cert)
      if (id === undefined) this.anchorIds.set(cert, id = this.nextAnchorId++)
      return id
    }).join(',')
    let at = setAt.get(key)
    if (at === undefined) {
      setAt.set(key, at = sets.length)
      sets.push({ key, certificates: anchors.map((cert) => cert.raw) })
    }
    return at
  }

  /** The outcome of one verified (or not) notification, and the row that records it. Over HTTP the device
   * is the one holding the EID (`bound`); over MQTT the device is the sender, and an EID another device
   * holds is refused. A rejected notification is shown to the tenant of the device it is bound to; one
   * bound to no device (ES9+, an EID no device holds, or none readable) is counted, not stored. */
  private decide (job: Job, result: Verdict, claimed: string | null, owners: Map<string, NotificationDevice>, bound: NotificationDevice | null): Decision {
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
}

/** The profile an accepted notification names, for the inventory (a failed installation result names
 * none: it changes nothing). */
function profileEffect (d: Decision): NotificationEffect[] {
  const { fields } = d.verified as Extract<Verdict, { ok: true }>
  const { operation, iccid, seqNumber } = fields
  if (iccid === null || operation === null || seqNumber === null) return []
  if (fields.kind === 'installation-result' && fields.result?.kind === 'error') return []
  return [{ eid: d.outcome.eid as string, iccid, operation, seqNumber, tenantId: d.owner?.tenantId ?? null, deviceId: d.owner?.id ?? null }]
}
