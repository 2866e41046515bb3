import { createHash, X509Certificate } from 'node:crypto'
import { nameAttribute, OID, readCertificateFields } from '../../esim/certificate-fields.ts'
import { verifyNotification, type CachedChain, type VerificationFailureReason } from '../../esim/notification-verifier.ts'
import { decodePendingNotification, type NotificationOperation, type PendingNotification } from '../../esim/pending-notification.ts'

/** The pure, CPU-bound part of the notification pipeline: decoding, hashing, the signature and the GSMA
 * chain. It runs in the verify pool's workers (`verify-pool.ts`), or on the calling thread with a pool of
 * size 0, with the same code either way. What crosses threads is plain data: bytes in, verdicts out. */

/** The columns a decoded notification fills in (all null when it cannot be decoded). */
export interface NotificationFields {
  seqNumber: number | null
  kind: 'other-signed' | 'installation-result' | null
  operation: NotificationOperation | null
  iccid: string | null
  notificationAddress: string | null
  result: Record<string, unknown> | null
}

/** What the pipeline needs before it reads the database: the hash it deduplicates by, the EID the
 * notification's own certificate names (verified or not), which binds an ES9+ notification to a device,
 * and whether it is an installation result, which carries no certificate and so needs the one the hub
 * holds for the device (only those are read, and sent to the workers). */
export interface Inspection { sha256: string, claimedEid: string | null, needsHeldCertificate: boolean }

/** One notification to verify, with what the database said about its device. */
export interface CheckInput {
  der: Uint8Array
  /** Index into the request's anchor sets: the CIs trusted for this notification's device. */
  anchors: number
  /** The EID the device is registered with. */
  expectedEid?: string
  /** The certificate the hub holds for the device, with its EUM's (installation results carry none). */
  known?: { euiccCertificate: Uint8Array, eumCertificate: Uint8Array }
}

/** A set of trust anchors as sent to a worker: `key` names it (same key, same certificates). */
export interface AnchorSet { key: string, certificates: Uint8Array[] }

export type Verdict =
  | {
    ok: true
    eid: string
    fields: NotificationFields
    /** Other-signed only: where in the notification's bytes its eUICC certificate starts and ends (and its
     * EUM certificate's), the certificates to hold for later installation results. */
    certificates?: [number, number] | [number, number, number, number]
  }
  | { ok: false, reason: VerificationFailureReason, detail: string, fields: NotificationFields }

/** What a thread keeps between requests: parsed anchors and the chains verified against them. */
export class CheckerState {
  private readonly sets = new Map<string, { anchors: X509Certificate[], chains: Map<string, CachedChain> }>()

  scope (set: AnchorSet): { anchors: X509Certificate[], chains: Map<string, CachedChain> } {
    let found = this.sets.get(set.key)
    if (found === undefined) {
      // A new key is a changed set of anchors: what was verified against older ones goes.
      if (this.sets.size >= 64) this.sets.clear()
      found = { anchors: set.certificates.flatMap((der) => parseQuietly(der)), chains: new Map() }
      this.sets.set(set.key, found)
    }
    return found
  }
}

export function inspect (der: Uint8Array): Inspection {
  const notification = decodeQuietly(der)
  return { sha256: createHash('sha256').update(der).digest('hex'), claimedEid: claimedEid(notification), needsHeldCertificate: notification?.kind === 'installation-result' }
}

export function check (state: CheckerState, sets: readonly AnchorSet[], input: CheckInput): Verdict {
  const scope = state.scope(sets[input.anchors])
  const result = verifyNotification(input.der, {
    trustAnchors: scope.anchors,
    expectedEid: input.expectedEid,
    knownEuiccCertificate: input.known,
    chainCache: scope.chains
  })
  const fields = describe(result.notification)
  if (!result.ok) return { ok: false, reason: result.reason, detail: result.detail, fields }
  if (result.notification.kind !== 'other-signed') return { ok: true, eid: result.eid, fields }
  const bytes = Buffer.from(input.der.buffer, input.der.byteOffset, input.der.byteLength)
  const euicc = bytes.indexOf(result.euiccCertificateDer)
  const eum = result.eumCertificateDer === undefined ? -1 : bytes.indexOf(result.eumCertificateDer)
  const certificates: [number, number] | [number, number, number, number] = eum < 0 || result.eumCertificateDer === undefined
    ? [euicc, euicc + result.euiccCertificateDer.byteLength]
    : [euicc, euicc + result.euiccCertificateDer.byteLength, eum, eum + result.eumCertificateDer.byteLength]
  return { ok: true, eid: result.eid, fields, certificates }
}

function parseQuietly (der: Uint8Array): X509Certificate[] {
  try {
    return [new X509Certificate(der)]
  } catch {
    return [] // an unusable anchor trusts nothing
  }
}

/** The decoded notification, or undefined when the DER is not one (the verifier then says why). */
function decodeQuietly (der: Uint8Array): PendingNotification | undefined {
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

function describe (notification: PendingNotification | undefined): NotificationFields {
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
