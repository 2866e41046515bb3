import { createHash } from 'node:crypto'
import type { HubEvent } from '../../protocol/events.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { ProfileRow, ProfileState } from '../db/schema/index.ts'
import { nameAttribute, OID, readCertificateFields } from '../euicc/certificate-fields.ts'
import { verifyNotification, type CachedChain, type VerificationResult } from '../euicc/notification-verifier.ts'
import type { NotificationOperation, PendingNotification } from '../euicc/pending-notification.ts'
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
  install: 'installed',
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
  private readonly chains = new Map<string, CachedChain>()
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
    const deviceIds = [...new Set(jobs.flatMap((j) => j.device === null ? [] : [j.device.id]))]
    const [contexts, existing] = await Promise.all([
      this.store.deviceContexts(deviceIds),
      this.store.existing(jobs.map((j) => j.sha256))
    ])
    const results = jobs.map((job) => this.verify(job, job.device === null ? null : contexts.get(job.device.id) ?? null))
    const eids = [...new Set(results.flatMap((r) => { const eid = r.ok ? r.eid : claimedEid(r.notification); return eid === null ? [] : [eid] }))]
    const owners = await this.store.devicesByEid(eids)

    const seenHashes = new Set<string>()
    const seenAccepted = new Set<string>()
    const decisions: Decision[] = jobs.map((job, i) => {
      const stored = existing.get(job.sha256)
      if (stored !== undefined || seenHashes.has(job.sha256)) {
        // A byte-identical resend: answered like the original (a duplicate of an accepted one).
        const status = stored?.status === 'rejected' ? 'rejected' : 'duplicate'
        return { job, outcome: { status, reason: stored?.reason ?? undefined, seqNumber: stored?.seqNumber ?? undefined, eid: stored?.eid ?? undefined }, record: null, owner: job.device, verified: null }
      }
      seenHashes.add(job.sha256)
      const decision = this.decide(job, results[i], owners)
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

  private verify (job: Job, context: DeviceContext | null): VerificationResult {
    // Installation results carry no certificate: the one the hub holds for the device's EID is used.
    return verifyNotification(job.der, {
      trustAnchors: this.trust.anchors(),
      expectedEid: context?.eid ?? undefined,
      knownEuiccCertificate: context?.euiccDer === null || context === null ? undefined : { euiccCertificate: context.euiccDer, eumCertificate: context.eumDer ?? undefined },
      chainCache: this.chains
    })
  }

  /** The outcome of one verified (or not) notification, and the row that records it. Over HTTP the device
   * is found by EID; over MQTT the device is the sender, and an EID another device holds is refused. A
   * rejected notification is shown to the tenant of the device whose EID it claims. */
  private decide (job: Job, result: VerificationResult, owners: Map<string, NotificationDevice>): Decision {
    const fields = describe(result.notification)
    const record = (status: 'accepted' | 'rejected', reason: string | null, detail: string | null, eid: string | null, owner: NotificationDevice | null): NotificationRecord =>
      ({ sha256: job.sha256, der: job.der, source: job.source, status, reason, detail, eid, tenantId: owner?.tenantId ?? null, deviceId: owner?.id ?? null, ...fields })
    const seqNumber = result.notification?.metadata.seqNumber
    if (!result.ok) {
      const eid = claimedEid(result.notification)
      const owner = job.device ?? (eid === null ? null : owners.get(eid) ?? null)
      return { job, outcome: { status: 'rejected', reason: result.reason, detail: result.detail, seqNumber }, record: record('rejected', result.reason, result.detail, eid, owner), owner, verified: null }
    }
    const holder = owners.get(result.eid) ?? null
    if (job.device !== null && holder !== null && holder.id !== job.device.id) {
      const detail = `EID ${result.eid} belongs to device ${holder.id}, not to the sender ${job.device.id}`
      return { job, outcome: { status: 'rejected', reason: 'eid-mismatch', detail, seqNumber }, record: record('rejected', 'eid-mismatch', detail, result.eid, job.device), owner: job.device, verified: null }
    }
    const owner = job.device ?? holder
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
