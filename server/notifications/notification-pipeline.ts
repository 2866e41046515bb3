import { createHash } from 'node:crypto'
import type { HubEvent } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { ProfileRow, ProfileState } from '../db/schema/index.ts'
import { nameAttribute, OID, readCertificateFields } from '../../esim/certificate-fields.ts'
import { verifyNotification, type CachedChain, type VerificationResult } from '../../esim/notification-verifier.ts'
import { decodePendingNotification, type NotificationOperation, type PendingNotification } from '../../esim/pending-notification.ts'
import type { HubMetrics } from '../metrics.ts'
import type { DeviceContext, NotificationRecord, NotificationStore, ProfileUpdate } from './notification-store.ts'
import type { OperatorDirectory } from './operator-directory.ts'
import type { TrustStore } from './trust-store.ts'

export type NotificationSource = 'mqtt' | 'es9plus'
export interface NotificationDevice { id: string, tenantId: string }

export interface NotificationOutcome {
  status: 'accepted' | 'duplicate' | 'rejected'
  reason?: string
  detail?: string
  seqNumber?: number
  eid?: string
}

/** What each operation does to the profile it names. */
const STATE_AFTER: Partial<Record<NotificationOperation, ProfileState>> = {
  install: 'disabled', // installed and not enabled
  enable: 'enabled',
  disable: 'disabled',
  delete: 'deleted',
  rpmEnable: 'enabled',
  rpmDisable: 'disabled',
  rpmDelete: 'deleted'
}

const MAX_BATCH = 500

interface Job {
  der: Buffer
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
  verified: Extract<VerificationResult, { ok: true }> | null
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
  /** Verified chains per trust scope (a tenant's anchors differ from another's): '' = platform only. */
  private readonly chains = new Map<string, Map<string, CachedChain>>()
  private readonly knownCertificates = new Set<string>()

  constructor (
    private readonly store: NotificationStore,
    private readonly trust: TrustStore,
    private readonly operators: OperatorDirectory,
    private readonly bus: EventBus,
    private readonly metrics: HubMetrics,
    private readonly onError: (err: Error) => void
  ) {
    trust.onChange(() => this.chains.clear())
  }

  /** Processes a notification; resolves with its outcome once committed (the MQTT path acks then). */
  submit (der: Buffer, source: NotificationSource, device: NotificationDevice | null, inboxId: number | null = null): Promise<NotificationOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ der, sha256: createHash('sha256').update(der).digest('hex'), source, device, inboxId, resolve, reject })
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
    const claimed = jobs.map((job) => claimedEid(decodeQuietly(job.der)))
    const claimedEids = [...new Set(claimed.flatMap((eid) => eid === null ? [] : [eid]))]
    const [owners, existing] = await Promise.all([
      this.store.devicesByEid(claimedEids),
      this.store.existing(jobs.map((j) => j.sha256))
    ])
    const bound = jobs.map((job, i) => job.device ?? (claimed[i] === null ? null : owners.get(claimed[i] as string) ?? null))
    const contexts = await this.store.deviceContexts([...new Set(bound.flatMap((d) => d === null ? [] : [d.id]))])
    for (const c of contexts.values()) if (c.eid !== null && !owners.has(c.eid)) owners.set(c.eid, { id: c.id, tenantId: c.tenantId })
    const results = jobs.map((job, i) => this.verify(job, bound[i] === null ? null : contexts.get((bound[i] as NotificationDevice).id) ?? null, bound[i]?.tenantId ?? null))

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
      const decision = this.decide(job, results[i], owners, bound[i])
      firstOf.set(job.sha256, decision)
      if (decision.outcome.status === 'accepted') {
        const key = `${decision.outcome.eid as string}:${decision.outcome.seqNumber as number}`
        if (seenAccepted.has(key)) return { ...decision, outcome: { ...decision.outcome, status: 'duplicate' }, record: null }
        seenAccepted.add(key)
      }
      return decision
    })

    const events: HubEvent[] = []
    await this.store.transaction(async (tx) => {
      const inserted = await this.store.insert(tx, decisions.flatMap((d) => d.record === null ? [] : [d.record]))
      for (const d of decisions) {
        // Not inserted: an accepted notification with the same (EID, seqNumber) was already stored.
        if (d.record !== null && !inserted.has(d.record.sha256)) d.outcome = { ...d.outcome, status: 'duplicate' }
      }
      const accepted = decisions.filter((d) => d.outcome.status === 'accepted' && d.verified !== null)
      const updates = latestPerProfile(accepted.flatMap((d) => this.profileUpdate(d)))
      const changed: ProfileRow[] = await this.store.applyProfiles(tx, updates)
      for (const u of updates.filter((u) => u.state === 'enabled').sort((a, b) => a.seqNumber - b.seqNumber)) {
        changed.push(...await this.store.disableOthers(tx, u.eid, u.iccid, u.seqNumber))
      }
      const certificates = accepted.flatMap((d) => {
        const v = d.verified as Extract<VerificationResult, { ok: true }>
        const key = `${v.eid}:${createHash('sha256').update(v.euiccCertificateDer).digest('hex')}`
        if (v.notification.kind !== 'other-signed' || this.knownCertificates.has(key)) return []
        return [{ eid: v.eid, euiccDer: v.euiccCertificateDer, eumDer: v.eumCertificateDer ?? null, key }]
      })
      await this.store.saveCertificates(tx, certificates)
      await this.store.learnEids(tx, accepted.flatMap((d) => {
        const context = d.job.device === null ? undefined : contexts.get(d.job.device.id)
        return context !== undefined && context.eid === null ? [{ deviceId: context.id, eid: d.outcome.eid as string }] : []
      }))
      await this.store.clearInbox(tx, jobs.flatMap((j) => j.inboxId === null ? [] : [j.inboxId]))
      for (const c of certificates) this.knownCertificates.add(c.key)
      for (const p of changed) if (p.tenantId !== null) events.push({ type: 'profile.changed', tenantId: p.tenantId, data: profileEventData(p) })
    })

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

  private verify (job: Job, context: DeviceContext | null, tenantId: string | null): VerificationResult {
    const scope = tenantId ?? ''
    let chains = this.chains.get(scope)
    if (chains === undefined) this.chains.set(scope, chains = new Map())
    // Installation results carry no certificate: the one the hub holds for the device's EID is used, with
    // its EUM certificate, and its whole chain is verified again against this device's anchors (a
    // certificate held without its EUM's cannot be, and verifies nothing).
    const known = context?.euiccDer === null || context?.euiccDer === undefined || context.eumDer === null ? undefined : { euiccCertificate: context.euiccDer, eumCertificate: context.eumDer }
    return verifyNotification(job.der, {
      trustAnchors: this.trust.anchors(tenantId),
      expectedEid: context?.eid ?? undefined,
      knownEuiccCertificate: known,
      chainCache: chains
    })
  }

  /** The outcome of one verified (or not) notification, and the row that records it. Over HTTP the device
   * is the one holding the EID (`bound`); over MQTT the device is the sender, and an EID another device
   * holds is refused. A rejected notification is shown to the tenant of the device it is bound to; one
   * bound to no device (ES9+, an EID no device holds, or none readable) is counted, not stored. */
  private decide (job: Job, result: VerificationResult, owners: Map<string, NotificationDevice>, bound: NotificationDevice | null): Decision {
    const fields = describe(result.notification)
    const record = (status: 'accepted' | 'rejected', reason: string | null, detail: string | null, eid: string | null, owner: NotificationDevice | null): NotificationRecord =>
      ({ sha256: job.sha256, der: job.der, source: job.source, status, reason, detail, eid, tenantId: owner?.tenantId ?? null, deviceId: owner?.id ?? null, ...fields })
    const seqNumber = result.notification?.metadata.seqNumber
    if (!result.ok) {
      const eid = claimedEid(result.notification)
      const owner = bound
      const stored = owner === null ? null : record('rejected', result.reason, result.detail, eid, owner)
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

  private profileUpdate (d: Decision): ProfileUpdate[] {
    const notification = (d.verified as Extract<VerificationResult, { ok: true }>).notification
    const { operation, iccid, seqNumber } = notification.metadata
    if (iccid === undefined) return []
    if (notification.kind === 'installation-result' && notification.finalResult.kind === 'error') return []
    const state = STATE_AFTER[operation]
    if (state === undefined) return []
    return [{
      eid: d.outcome.eid as string,
      iccid,
      state,
      seqNumber,
      cause: `notification: ${operation} (seq ${seqNumber})`,
      tenantId: d.owner?.tenantId ?? null,
      deviceId: d.owner?.id ?? null,
      operatorId: this.operators.byIccid(iccid)?.id ?? null
    }]
  }
}

/** Keeps, for each profile, only the change with the highest seqNumber. */
function latestPerProfile (updates: ProfileUpdate[]): ProfileUpdate[] {
  const latest = new Map<string, ProfileUpdate>()
  for (const u of updates) {
    const key = `${u.eid}:${u.iccid}`
    const current = latest.get(key)
    if (current === undefined || current.seqNumber < u.seqNumber) latest.set(key, u)
  }
  return [...latest.values()]
}

/** The decoded notification, or undefined when the DER is not one (the verifier then says why). */
function decodeQuietly (der: Buffer): PendingNotification | undefined {
  try {
    return decodePendingNotification(der)
  } catch {
    return undefined
  }
}

/** The EID an other-signed notification's certificate names, verified or not. */
function claimedEid (notification: PendingNotification | undefined): string | null {
  if (notification?.kind !== 'other-signed') return null
  try {
    return nameAttribute(readCertificateFields(notification.euiccCertificateDer).subject, OID.serialNumber) ?? null
  } catch {
    return null
  }
}

/** The columns a decoded notification fills in. */
function describe (notification: PendingNotification | undefined) {
  if (notification === undefined) {
    return { seqNumber: null, kind: null, operation: null, iccid: null, notificationAddress: null, result: null }
  }
  const m = notification.metadata
  return {
    seqNumber: m.seqNumber,
    kind: notification.kind,
    operation: m.operation,
    iccid: m.iccid ?? null,
    notificationAddress: m.notificationAddress,
    result: notification.kind === 'installation-result'
      ? { transactionId: Buffer.from(notification.transactionId).toString('hex'), ...finalResult(notification) }
      : null
  }
}

function finalResult (n: Extract<PendingNotification, { kind: 'installation-result' }>) {
  const r = n.finalResult
  return r.kind === 'success' ? { kind: 'success', aid: Buffer.from(r.aid).toString('hex') } : { kind: 'error', bppCommandId: r.bppCommandId, errorReason: r.errorReason }
}

export function profileEventData (p: ProfileRow) {
  return { deviceId: p.deviceId, eid: p.eid, iccid: p.iccid, state: p.state, cause: p.cause, seqNumber: p.seqNumber, reportedState: p.reportedState, conflict: p.conflict, operatorId: p.operatorId }
}
