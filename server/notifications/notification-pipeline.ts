import { X509Certificate } from 'node:crypto'
import type { HubEvent } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { ProfileRow } from '../db/schema/index.ts'
import type { ProfileInventory } from '../inventory/profile-inventory.ts'
import { profileEventData } from '../inventory/profile-row.ts'
import type { HubMetrics } from '../metrics.ts'
import type { EuiccCertificates, HeldCertificate } from '../trust/euicc-certificates.ts'
import type { TrustStore } from '../trust/trust-store.ts'
import type { AnchorSet, CheckInput, Inspection, Verdict } from './notification-check.ts'
import { decideBatch, profileEffect, type Decision, type Job, type NotificationDevice, type NotificationOutcome, type NotificationSource } from './notification-decisions.ts'
import type { DeviceContext, NotificationStore } from './notification-store.ts'
import type { VerifyPool } from './verify-pool.ts'

export type { NotificationDevice, NotificationOutcome, NotificationSource } from './notification-decisions.ts'

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

const MAX_BATCH = 500
/** Notifications inspected per message to the pool as they arrive. */
const INSPECT_GROUP = 64

/** A batch read and verified, ready to commit. `read` is what it read that an earlier batch's commit
 * can change: hashes (stored notifications), EIDs (owners, held certificates) and device ids (EIDs). */
interface Prepared {
  jobs: Job[]
  decisions: Decision[]
  contexts: Map<string, DeviceContext>
  read: { hashes: Set<string>, eids: Set<string>, devices: Set<string> }
}
/** What a commit changed of what `Prepared.read` covers. */
interface Changes { hashes: string[], eids: string[], devices: string[] }

/** One pipeline for both ways in (MQTT `devices/{id}/notifications` and ES9+ handleNotification). Work
 * is taken in batches: a few set-based reads, the verifications (over the exact received bytes; chains
 * cached), then one transaction that records every outcome, deduplicates (SHA-256 of the DER; (EID,
 * seqNumber) of accepted ones), updates the profile inventory in seqNumber order and clears the ES9+
 * inbox. Callers hear the outcome after the commit; events are published after it too. Batches commit
 * one at a time, so a device's notifications are applied in the order they arrived. The CPU work (hash,
 * decode, signature, chain) is the verify pool's: a notification is inspected as it arrives, and the
 * next batch is read and verified while the previous one commits; should that commit change what the
 * next batch read (a stored hash, an EID learned, a certificate held), the next batch is read and
 * verified again after it. */
export class NotificationPipeline {
  private queue: Job[] = []
  private arrivals: Array<{ job: Job, settle (inspection: Promise<Inspection>): void }> = []
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
      let settle: (inspection: Promise<Inspection>) => void = () => {}
      const inspection = new Promise<Inspection>((resolve) => { settle = resolve })
      inspection.catch(() => {}) // a failed inspection fails the job's batch, which rejects the job
      const job: Job = { der, source, device, inboxId, inspection, sha256: '', resolve, reject }
      // Arrivals go to the pool in groups (one message per group): as soon as a group is full, or when
      // the batch they belong to is prepared.
      if (this.arrivals.push({ job, settle }) >= INSPECT_GROUP) this.inspectArrivals()
      this.queue.push(job)
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

  private inspectArrivals (): void {
    if (this.arrivals.length === 0) return
    const arrived = this.arrivals.splice(0)
    const inspected = this.pool.inspect(arrived.map((a) => a.job.der))
    for (const [i, a] of arrived.entries()) a.settle(inspected.then((all) => all[i]))
  }

  private schedule (): void {
    if (this.running) return
    this.running = true
    setImmediate(() => { this.drain().catch(this.onError) })
  }

  private async drain (): Promise<void> {
    let current: Prepared | null = null
    while (current !== null || this.queue.length > 0) {
      if (current === null) {
        current = await this.prepare(this.queue.splice(0, MAX_BATCH))
        continue
      }
      const committing = this.commit(current)
      const ahead = this.queue.length > 0 ? this.prepare(this.queue.splice(0, MAX_BATCH)) : null
      const changes = await committing
      let next = await ahead
      if (next !== null && changes !== null && touches(next, changes)) next = await this.prepare(next.jobs)
      current = next
    }
    this.running = false
    for (const resolve of this.idle.splice(0)) resolve()
  }

  /** Reads what the batch needs and verifies it; null when that failed (its jobs are rejected). */
  private async prepare (jobs: Job[]): Promise<Prepared | null> {
    try {
      return await this.read(jobs)
    } catch (err) {
      for (const job of jobs) job.reject(err as Error)
      return null
    }
  }

  private async read (jobs: Job[]): Promise<Prepared> {
    // Each notification is bound to a device before it is verified: over MQTT the sender, over ES9+ the
    // device holding the EID its certificate names (EIDs are unique hub-wide). The device's tenant
    // decides which anchors are trusted: the platform's plus that tenant's.
    this.inspectArrivals()
    const inspections = await Promise.all(jobs.map((job) => job.inspection))
    for (const [i, job] of jobs.entries()) job.sha256 = inspections[i].sha256
    const claimed = inspections.map((inspection) => inspection.claimedEid)
    const claimedEids = [...new Set(claimed.flatMap((eid) => eid === null ? [] : [eid]))]
    // One round trip in the common case: over MQTT the sender is known before anything is read, so its
    // context is read with the owners and the stored hashes; only ES9+ notifications bound through their
    // EID need a second read. Held certificates only for the installation results, which carry none.
    const senders = [...new Set(jobs.flatMap((job) => job.device === null ? [] : [job.device.id]))]
    const [owners, existing, contexts] = await Promise.all([
      this.store.devicesByEid(claimedEids),
      this.store.existing(jobs.map((j) => j.sha256)),
      this.store.deviceContexts(senders)
    ])
    const bound = jobs.map((job, i) => job.device ?? (claimed[i] === null ? null : owners.get(claimed[i] as string) ?? null))
    const unread = [...new Set(bound.flatMap((d) => d === null || contexts.has(d.id) ? [] : [d.id]))]
    for (const [id, context] of await this.store.deviceContexts(unread)) contexts.set(id, context)
    for (const c of contexts.values()) if (c.eid !== null && !owners.has(c.eid)) owners.set(c.eid, { id: c.id, tenantId: c.tenantId })
    const contextOf = (i: number): DeviceContext | null => bound[i] === null ? null : contexts.get((bound[i] as NotificationDevice).id) ?? null
    const contextEids = [...contexts.values()].flatMap((c) => c.eid === null ? [] : [c.eid])
    const heldEids = [...new Set(jobs.flatMap((_, i) => {
      const eid = contextOf(i)?.eid ?? null
      return inspections[i].needsHeldCertificate && eid !== null ? [eid] : []
    }))]
    const held = await this.certificates.held(heldEids)
    const sets: AnchorSet[] = []
    const setAt = new Map<string, number>()
    const inputs = jobs.map((job, i) => {
      const context = contextOf(i)
      const eid = context?.eid ?? null
      const known = inspections[i].needsHeldCertificate && eid !== null ? held.get(eid) ?? null : null
      return this.input(job, context, known, this.anchorSet(bound[i]?.tenantId ?? null, sets, setAt))
    })
    const verdicts = await this.pool.check(sets, inputs)
    const decisions = decideBatch({ jobs, verdicts, claimed, bound, owners, existing })
    const read = { hashes: new Set(jobs.map((j) => j.sha256)), eids: new Set([...claimedEids, ...contextEids]), devices: new Set(contexts.keys()) }
    return { jobs, decisions, contexts, read }
  }

  /** Records the batch in one transaction, then answers and publishes; null when it failed. */
  private async commit (prepared: Prepared): Promise<Changes | null> {
    try {
      return await this.write(prepared)
    } catch (err) {
      for (const job of prepared.jobs) job.reject(err as Error)
      return null
    }
  }

  private async write ({ jobs, decisions, contexts }: Prepared): Promise<Changes> {
    const events: HubEvent[] = []
    const changes: Changes = { hashes: [], eids: [], devices: [] }
    const rememberLearned = await this.store.transaction(async (tx) => {
      const inserted = await this.store.insert(tx, decisions.flatMap((d) => d.record === null ? [] : [d.record]))
      changes.hashes = [...inserted]
      for (const d of decisions) {
        // Not inserted: an accepted notification with the same (EID, seqNumber) was already stored.
        if (d.record !== null && !inserted.has(d.record.sha256)) d.outcome = { ...d.outcome, status: 'duplicate' }
      }
      const accepted = decisions.filter((d) => d.outcome.status === 'accepted' && d.verified !== null)
      const changed: ProfileRow[] = await this.inventory.applyNotifications(tx, accepted.flatMap((d) => profileEffect(d)))
      const learned = await this.certificates.learn(tx, accepted.flatMap((d) => {
        const v = d.verified as Extract<Verdict, { ok: true }>
        const at = v.certificates
        return at === undefined ? [] : [{ eid: v.eid, euiccDer: d.job.der.subarray(at[0], at[1]), eumDer: at.length === 4 ? d.job.der.subarray(at[2], at[3]) : null }]
      }))
      const eids = accepted.flatMap((d) => {
        const context = d.job.device === null ? undefined : contexts.get(d.job.device.id)
        return context !== undefined && context.eid === null ? [{ deviceId: context.id, eid: d.outcome.eid as string }] : []
      })
      await this.store.learnEids(tx, eids)
      changes.eids = [...learned.eids, ...eids.map((e) => e.eid)]
      changes.devices = eids.map((e) => e.deviceId)
      await this.store.clearInbox(tx, jobs.flatMap((j) => j.inboxId === null ? [] : [j.inboxId]))
      for (const p of changed) if (p.tenantId !== null) events.push({ type: 'profile.changed', tenantId: p.tenantId, data: profileEventData(p) })
      return learned.remember
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
    return changes
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
}

/** Whether a commit changed what a batch prepared meanwhile has read. */
function touches (next: Prepared, changes: Changes): boolean {
  return changes.hashes.some((h) => next.read.hashes.has(h)) || changes.eids.some((e) => next.read.eids.has(e)) || changes.devices.some((d) => next.read.devices.has(d))
}
