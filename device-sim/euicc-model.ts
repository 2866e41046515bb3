// The eUICC of a simulated device, without any transport: its profiles and the SGP.22 rules for changing
// them, its notification sequence counter, and the bounded list of signed PendingNotifications it keeps
// until the hub acknowledges each one (an eUICC's notification storage is small; past the limit the oldest
// is lost, and counted).
import { randomBytes, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { decodeDer } from '../esim/der-reader.ts'
import { encodeInstallationResult, encodeOtherSignedNotification } from '../esim/notification-encoder.ts'
import { decodePendingNotification } from '../esim/pending-notification.ts'
import type { NotificationOperation } from '../esim/pending-notification.ts'
import { carrierOfIccid, CARRIERS } from './carriers.ts'
import type { Carrier } from './carriers.ts'
import type { Faults } from './faults.ts'
import type { EuiccState } from './fleet-file.ts'
import { isdpAid, MAX_PROFILES, newProfile } from './identity.ts'
import type { SimProfile } from './identity.ts'
import { Random } from './random.ts'

export const DEFAULT_NOTIFICATION_QUEUE = 32
/** The notification address when a profile's SM-DP+ is not known (SGP.26's test SM-DP+). */
export const DEFAULT_SMDP_ADDRESS = 'testsmdpplus1.example.com'

export interface PendingNotification {
  seqNumber: number
  operation: NotificationOperation
  iccid?: string
  der: Uint8Array
  /** performance.now() when first published, for the acknowledgement latency. */
  firstSentAt?: number
  /** Published (and PUBACKed) at least once. */
  delivered?: boolean
}

/** SGP.22 / SGP.32 profile operation result codes. */
export const ResultCode = {
  ok: 0,
  iccidOrAidNotFound: 1,
  wrongState: 2,
  disallowedByPolicy: 3,
  catBusy: 5,
  undefinedError: 127
} as const

export type OperationOutcome =
  | { ok: true, notifications: PendingNotification[] }
  | { ok: false, reason: number, code: string, message: string }

export interface ActivationCode { smdpAddress: string, matchingId: string }

export type InstallOutcome =
  | { ok: true, profile: SimProfile, notification: PendingNotification }
  | { ok: false, code: string, message: string, errorReason: number, notification: PendingNotification }

export interface EuiccModelOptions {
  eid: string
  privateKey: KeyObject
  certificateDer: Uint8Array
  eumCertificateDer: Uint8Array
  state: EuiccState
  queueLimit?: number
  faults?: Faults
  rng?: Random
  carriers?: readonly Carrier[]
}

/** Parses `LPA:1$<SM-DP+ address>$<matching id>[$<OID>[$<confirmation code required>]]`. */
export function parseActivationCode (code: string): ActivationCode | null {
  const parts = code.split('$')
  if (parts[0] !== 'LPA:1' || parts.length < 3 || parts.length > 5) return null
  const [, smdpAddress, matchingId] = parts as [string, string, string]
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(smdpAddress) || !smdpAddress.includes('.')) return null
  if (!/^[A-Za-z0-9-]{0,255}$/.test(matchingId)) return null
  return { smdpAddress, matchingId }
}

export class EuiccModel {
  readonly eid: string
  private readonly privateKey: KeyObject
  private readonly certificateDer: Uint8Array
  private readonly eumCertificateDer: Uint8Array
  private readonly queueLimit: number
  private readonly faults: Faults
  private readonly rng: Random
  private readonly carriers: readonly Carrier[]
  private readonly profileList: SimProfile[]
  private readonly queue: PendingNotification[]
  private seq: number
  /** Highest eIM counter value accepted. */
  eimCounter: number
  /** Notifications lost because the list was full. */
  dropped = 0

  constructor (options: EuiccModelOptions) {
    this.eid = options.eid
    this.privateKey = options.privateKey
    this.certificateDer = options.certificateDer
    this.eumCertificateDer = options.eumCertificateDer
    this.queueLimit = Math.max(1, options.queueLimit ?? DEFAULT_NOTIFICATION_QUEUE)
    this.faults = options.faults ?? {}
    this.rng = options.rng ?? new Random()
    this.carriers = options.carriers ?? CARRIERS
    this.profileList = options.state.profiles.map((p) => ({ ...p }))
    this.seq = Math.max(1, options.state.nextSeqNumber)
    this.eimCounter = options.state.eimCounter
    this.queue = options.state.pendingNotifications.map(restore).sort((a, b) => a.seqNumber - b.seqNumber)
  }

  get profiles (): readonly SimProfile[] { return this.profileList }

  get enabledProfile (): SimProfile | undefined { return this.profileList.find((p) => p.state === 'enabled') }

  /** Notifications not yet acknowledged, oldest first. */
  get pending (): readonly PendingNotification[] { return this.queue }

  /** What a run hands to the next one through the fleet file. */
  state (): EuiccState {
    return {
      profiles: this.profileList.map((p) => ({ ...p })),
      nextSeqNumber: this.seq,
      eimCounter: this.eimCounter,
      pendingNotifications: this.queue.map((n) => ({ seqNumber: n.seqNumber, der: Buffer.from(n.der).toString('base64') }))
    }
  }

  /** Takes the next sequence number (shared by notifications and SGP.32 package results). */
  nextSeqNumber (): number {
    return this.seq++
  }

  /** Removes the notification the hub acknowledged; undefined when it is not (or no longer) pending. */
  acknowledge (seqNumber: number): PendingNotification | undefined {
    const i = this.queue.findIndex((n) => n.seqNumber === seqNumber)
    return i < 0 ? undefined : this.queue.splice(i, 1)[0]
  }

  /** ECDSA-SHA256 r‖s with the eUICC key. */
  sign (data: Uint8Array): Uint8Array {
    return new Uint8Array(sign('sha256', data, { key: this.privateKey, dsaEncoding: 'ieee-p1363' }))
  }

  /** An other-signed notification for `operation` on `iccid`, as if the profile had just changed (used at
   * start so a fresh device has something to report). */
  notify (operation: 'enable' | 'disable' | 'delete', iccid: string): PendingNotification {
    return this.otherSigned(operation, iccid)
  }

  enable (iccid: string): OperationOutcome {
    const profile = this.find(iccid)
    if (profile === undefined) return notFound(iccid)
    if (profile.state === 'enabled') return refuse(ResultCode.wrongState, 'profile-not-in-disabled-state', `profile ${iccid} is already enabled`)
    const notifications: PendingNotification[] = []
    const current = this.enabledProfile
    if (current !== undefined) {
      current.state = 'disabled'
      notifications.push(this.otherSigned('disable', current.iccid))
    }
    profile.state = 'enabled'
    notifications.push(this.otherSigned('enable', iccid))
    return { ok: true, notifications }
  }

  disable (iccid: string): OperationOutcome {
    const profile = this.find(iccid)
    if (profile === undefined) return notFound(iccid)
    if (profile.state !== 'enabled') return refuse(ResultCode.wrongState, 'profile-not-in-enabled-state', `profile ${iccid} is not enabled`)
    profile.state = 'disabled'
    return { ok: true, notifications: [this.otherSigned('disable', iccid)] }
  }

  delete (iccid: string): OperationOutcome {
    const profile = this.find(iccid)
    if (profile === undefined) return notFound(iccid)
    if (profile.state === 'enabled') return refuse(ResultCode.wrongState, 'profile-not-in-disabled-state', `profile ${iccid} is enabled; disable it first`)
    this.profileList.splice(this.profileList.indexOf(profile), 1)
    return { ok: true, notifications: [this.otherSigned('delete', iccid)] }
  }

  setFallback (iccid: string): OperationOutcome {
    const profile = this.find(iccid)
    if (profile === undefined) return notFound(iccid)
    for (const p of this.profileList) delete p.fallback
    profile.fallback = true
    return { ok: true, notifications: [] }
  }

  unsetFallback (iccid?: string): OperationOutcome {
    const profile = iccid === undefined ? this.profileList.find((p) => p.fallback === true) : this.find(iccid)
    if (profile === undefined) return iccid === undefined ? { ok: true, notifications: [] } : notFound(iccid)
    delete profile.fallback
    return { ok: true, notifications: [] }
  }

  /** Installs a profile from `code`'s SM-DP+ (the download itself is the caller's delay) and emits the
   * signed ProfileInstallationResult; `fail` forces an installation error. */
  install (code: ActivationCode, fail?: { bppCommandId: number, errorReason: number }): InstallOutcome {
    const transactionId = new Uint8Array(randomBytes(16))
    const full = this.profileList.length >= MAX_PROFILES
    const failure = fail ?? (full ? { bppCommandId: 1, errorReason: 10 } : undefined)
    if (failure !== undefined) {
      const notification = this.installationResult(code.smdpAddress, transactionId, undefined, failure)
      const message = failure.errorReason === 10 ? 'insufficient memory on the eUICC' : `installation failed (bppCommandId ${failure.bppCommandId}, errorReason ${failure.errorReason})`
      return { ok: false, code: failure.errorReason === 10 ? 'insufficient-memory' : 'install-failed', message, errorReason: failure.errorReason, notification }
    }
    const carrier = this.carriers.find((c) => c.smdpAddress === code.smdpAddress) ?? this.rng.pick(this.carriers)
    const used = new Set(this.profileList.map((p) => p.aid))
    let slot = 0
    while (used.has(isdpAid(slot))) slot++
    const profile = newProfile(this.rng, carrier, slot)
    this.profileList.push(profile)
    return { ok: true, profile, notification: this.installationResult(code.smdpAddress, transactionId, profile, undefined) }
  }

  private find (iccid: string): SimProfile | undefined {
    return this.profileList.find((p) => p.iccid === iccid)
  }

  private smdpOf (iccid: string): string {
    return carrierOfIccid(iccid, this.carriers)?.smdpAddress ?? carrierOfIccid(iccid)?.smdpAddress ?? DEFAULT_SMDP_ADDRESS
  }

  private otherSigned (operation: 'enable' | 'disable' | 'delete', iccid: string): PendingNotification {
    const seqNumber = this.nextSeqNumber()
    const der = encodeOtherSignedNotification({
      seqNumber,
      operation,
      notificationAddress: this.smdpOf(iccid),
      iccid,
      privateKey: this.privateKey,
      euiccCertificateDer: this.certificateDer,
      eumCertificateDer: this.eumCertificateDer
    })
    return this.keep({ seqNumber, operation, iccid, der: this.maybeCorrupt(der) })
  }

  private installationResult (smdpAddress: string, transactionId: Uint8Array, profile: SimProfile | undefined, failure: { bppCommandId: number, errorReason: number } | undefined): PendingNotification {
    const seqNumber = this.nextSeqNumber()
    const der = encodeInstallationResult({
      seqNumber,
      operation: 'install',
      notificationAddress: smdpAddress,
      ...(profile === undefined ? {} : { iccid: profile.iccid }),
      privateKey: this.privateKey,
      transactionId,
      finalResult: failure === undefined
        ? { kind: 'success', aid: Uint8Array.from(Buffer.from(profile!.aid, 'hex')) }
        : { kind: 'error', ...failure }
    })
    return this.keep({ seqNumber, operation: 'install', ...(profile === undefined ? {} : { iccid: profile.iccid }), der: this.maybeCorrupt(der) })
  }

  private keep (notification: PendingNotification): PendingNotification {
    while (this.queue.length >= this.queueLimit) {
      this.queue.shift()
      this.dropped++
    }
    this.queue.push(notification)
    return notification
  }

  private maybeCorrupt (der: Uint8Array): Uint8Array {
    return this.rng.chance(this.faults['bad-signature'] ?? 0) ? corruptSignature(der) : der
  }
}

/** A copy of a PendingNotification (either shape) with one bit of its eUICC signature flipped. */
export function corruptSignature (der: Uint8Array): Uint8Array {
  const copy = new Uint8Array(der)
  const root = decodeDer(copy)
  const signature = root.children.find((c) => c.tag === 0x5f37)
  if (signature === undefined) throw new RangeError('no 5F37 signature in this notification')
  copy[signature.valueStart + 7]! ^= 0x01
  return copy
}

/** A notification kept by an earlier run, with its metadata read back from the DER. */
function restore (stored: { seqNumber: number, der: string }): PendingNotification {
  const der = new Uint8Array(Buffer.from(stored.der, 'base64'))
  try {
    const { metadata } = decodePendingNotification(der)
    return { seqNumber: stored.seqNumber, operation: metadata.operation, ...(metadata.iccid === undefined ? {} : { iccid: metadata.iccid }), der }
  } catch {
    return { seqNumber: stored.seqNumber, operation: 'install', der }
  }
}

function notFound (iccid: string): OperationOutcome {
  return refuse(ResultCode.iccidOrAidNotFound, 'iccid-not-found', `no profile ${iccid} on this eUICC`)
}

function refuse (reason: number, code: string, message: string): OperationOutcome {
  return { ok: false, reason, code, message }
}
