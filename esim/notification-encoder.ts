// The signing side of PendingNotifications, for tests and the device simulator: builds an
// other-signed notification or a profile installation result signed with the eUICC's private key.
import { sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { integer, namedBits, octetString, oid, sequence, tlv, utf8String } from './der-writer.ts'
import { encodeIccid } from './iccid.ts'
import { NOTIFICATION_OPERATIONS } from './pending-notification.ts'
import type { NotificationOperation } from './pending-notification.ts'

export interface NotificationMetadataInput {
  seqNumber: number
  operation: NotificationOperation
  notificationAddress: string
  iccid?: string
}

export interface OtherSignedInput extends NotificationMetadataInput {
  /** The eUICC's private key (P-256 or brainpoolP256r1). */
  privateKey: KeyObject
  euiccCertificateDer: Uint8Array
  eumCertificateDer: Uint8Array
}

export type FinalResultInput =
  | { kind: 'success', aid: Uint8Array, simaResponse?: Uint8Array }
  | { kind: 'error', bppCommandId: number, errorReason: number, simaResponse?: Uint8Array }

export interface InstallationResultInput extends NotificationMetadataInput {
  privateKey: KeyObject
  /** 1–16 bytes, as issued by the SM-DP+. */
  transactionId: Uint8Array
  /** The SM-DP+ OID; null leaves it out (SGP.22 v2.0 shape). Default 2.999.10. */
  smdpOid?: string | null
  finalResult: FinalResultInput
}

/** ECDSA with SHA-256 as SGP.22 carries it: r‖s, 64 bytes. */
export function signRaw (privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }))
}

/** The BF2F NotificationMetadata TLV; the operation as a DER-trimmed named-bit BIT STRING. */
export function encodeNotificationMetadata (m: NotificationMetadataInput): Uint8Array {
  const bit = NOTIFICATION_OPERATIONS.indexOf(m.operation)
  if (bit < 0) throw new RangeError(`unknown operation ${String(m.operation)}`)
  return tlv(0xbf2f,
    integer(m.seqNumber, 0x80),
    namedBits([bit], 0x81),
    utf8String(m.notificationAddress),
    ...(m.iccid === undefined ? [] : [octetString(encodeIccid(m.iccid), 0x5a)]))
}

export function encodeOtherSignedNotification (input: OtherSignedInput): Uint8Array {
  const metadata = encodeNotificationMetadata(input)
  return sequence(
    metadata,
    octetString(signRaw(input.privateKey, metadata), 0x5f37),
    input.euiccCertificateDer,
    input.eumCertificateDer)
}

export function encodeInstallationResult (input: InstallationResultInput): Uint8Array {
  const r = input.finalResult
  const finalResult = r.kind === 'success'
    ? tlv(0xa0, octetString(r.aid, 0x4f), octetString(r.simaResponse ?? new Uint8Array(0)))
    : tlv(0xa1, integer(r.bppCommandId, 0x80), integer(r.errorReason, 0x81),
      ...(r.simaResponse === undefined ? [] : [octetString(r.simaResponse, 0x82)]))
  const smdpOid = input.smdpOid === undefined ? '2.999.10' : input.smdpOid
  const data = tlv(0xbf27,
    octetString(input.transactionId, 0x80),
    encodeNotificationMetadata(input),
    smdpOid === null ? new Uint8Array(0) : oid(smdpOid),
    tlv(0xa2, finalResult))
  return tlv(0xbf37, data, octetString(signRaw(input.privateKey, data), 0x5f37))
}
