// Decodes an SGP.22 PendingNotification, either shape:
//   OtherSignedNotification   30 { BF2F metadata, 5F37 signature, eUICC cert, EUM cert }
//   ProfileInstallationResult BF37 { BF27 { 80 transactionId, BF2F metadata, 06 smdpOid, A2 finalResult }, 5F37 signature }
// Throws DerDecodeError only. `signedBytes` is a copy of the received signed TLV, never a re-encoding.
import { DerCursor, DerDecodeError, copyBytes, decodeDer, formatTag, tlvBytes } from './der-reader.ts'
import type { DerNode } from './der-reader.ts'
import { readBitString, readOctets, readOid, readUnsigned, readUtf8, setBits } from './der-values.ts'
import { decodeIccid } from './iccid.ts'

/** Largest notification accepted (two certificates and a little metadata fit in a few kB). */
export const MAX_NOTIFICATION_BYTES = 64 * 1024
export const SIGNATURE_BYTES = 64

/**
 * Operation bits by position. SGP.22 v2: install 0, enable 1, disable 2, delete 3. v3 widens the field
 * to 8 bits with the same bits 0–3 (local operations) plus RPM enable/disable/delete 4–6 and RPM
 * package result 7.
 */
export const NOTIFICATION_OPERATIONS = [
  'install', 'enable', 'disable', 'delete', 'rpmEnable', 'rpmDisable', 'rpmDelete', 'loadRpmPackageResult'
] as const
export type NotificationOperation = typeof NOTIFICATION_OPERATIONS[number]

export interface NotificationMetadata {
  seqNumber: number
  operation: NotificationOperation
  /** Bit position of `operation` in the BIT STRING. */
  operationBit: number
  notificationAddress: string
  iccid?: string
}

export interface OtherSignedNotification {
  kind: 'other-signed'
  metadata: NotificationMetadata
  /** The complete BF2F TLV as received: what the signature covers. */
  signedBytes: Uint8Array
  /** r‖s, 64 bytes. */
  signature: Uint8Array
  euiccCertificateDer: Uint8Array
  eumCertificateDer: Uint8Array
}

export type InstallationFinalResult =
  | { kind: 'success', aid: Uint8Array, simaResponse: Uint8Array }
  | { kind: 'error', bppCommandId: number, errorReason: number, simaResponse?: Uint8Array }

export interface ProfileInstallationResult {
  kind: 'installation-result'
  transactionId: Uint8Array
  metadata: NotificationMetadata
  /** Absent only in SGP.22 v2.0-era results. */
  smdpOid?: string
  finalResult: InstallationFinalResult
  /** The complete BF27 TLV as received: what the signature covers. */
  signedBytes: Uint8Array
  signature: Uint8Array
}

export type PendingNotification = OtherSignedNotification | ProfileInstallationResult

const TAG = {
  sequence: 0x30,
  metadata: 0xbf2f,
  signature: 0x5f37,
  installationResult: 0xbf37,
  installationResultData: 0xbf27,
  iccid: 0x5a,
  utf8: 0x0c,
  oid: 0x06,
  octets: 0x04,
  aid: 0x4f,
  ctx0: 0x80,
  ctx1: 0x81,
  ctx2: 0x82,
  finalResult: 0xa2,
  success: 0xa0,
  error: 0xa1
} as const

export function decodePendingNotification (input: Uint8Array): PendingNotification {
  const root = decodeDer(input, { maxLength: MAX_NOTIFICATION_BYTES })
  if (root.tag === TAG.sequence) return decodeOtherSigned(root)
  if (root.tag === TAG.installationResult) return decodeInstallationResult(root)
  throw new DerDecodeError('unexpected-tag', `PendingNotification: expected 30 or BF37, found ${formatTag(root.tag)}`, 0)
}

function decodeOtherSigned (root: DerNode): OtherSignedNotification {
  const c = new DerCursor(root, 'OtherSignedNotification')
  const metadataNode = c.next(TAG.metadata, 'tbsOtherNotification')
  const signature = readSignature(c.next(TAG.signature, 'euiccNotificationSignature'))
  const euiccCert = c.next(TAG.sequence, 'euiccCertificate')
  const eumCert = c.next(TAG.sequence, 'eumCertificate')
  c.finish()
  return {
    kind: 'other-signed',
    metadata: decodeNotificationMetadata(metadataNode),
    signedBytes: copyBytes(tlvBytes(metadataNode)),
    signature,
    euiccCertificateDer: copyBytes(tlvBytes(euiccCert)),
    eumCertificateDer: copyBytes(tlvBytes(eumCert))
  }
}

function decodeInstallationResult (root: DerNode): ProfileInstallationResult {
  const outer = new DerCursor(root, 'ProfileInstallationResult')
  const data = outer.next(TAG.installationResultData, 'profileInstallationResultData')
  const signature = readSignature(outer.next(TAG.signature, 'euiccSignPIR'))
  outer.finish()

  const c = new DerCursor(data, 'ProfileInstallationResultData')
  const transactionId = readOctets(c.next(TAG.ctx0, 'transactionId'))
  if (transactionId.length < 1 || transactionId.length > 16) {
    throw new DerDecodeError('malformed', `transactionId of ${transactionId.length} bytes (1–16 allowed)`, data.start)
  }
  const metadata = decodeNotificationMetadata(c.next(TAG.metadata, 'notificationMetadata'))
  const oidNode = c.optional(TAG.oid)
  const finalResult = decodeFinalResult(c.next(TAG.finalResult, 'finalResult'))
  c.finish(true)
  return {
    kind: 'installation-result',
    transactionId,
    metadata,
    ...(oidNode === undefined ? {} : { smdpOid: readOid(oidNode) }),
    finalResult,
    signedBytes: copyBytes(tlvBytes(data)),
    signature
  }
}

function decodeFinalResult (node: DerNode): InstallationFinalResult {
  const arms = new DerCursor(node, 'finalResult').node.children
  if (arms.length !== 1) throw new DerDecodeError('malformed', `finalResult holds ${arms.length} elements, expected one`, node.start)
  const arm = arms[0]!
  if (arm.tag === TAG.success) {
    const c = new DerCursor(arm, 'successResult')
    const aid = readOctets(c.next(TAG.aid, 'aid'))
    if (aid.length < 5 || aid.length > 16) throw new DerDecodeError('malformed', `AID of ${aid.length} bytes (5–16 allowed)`, arm.start)
    const simaResponse = readOctets(c.next(TAG.octets, 'simaResponse'))
    c.finish(true)
    return { kind: 'success', aid, simaResponse }
  }
  if (arm.tag === TAG.error) {
    const c = new DerCursor(arm, 'errorResult')
    const bppCommandId = readUnsigned(c.next(TAG.ctx0, 'bppCommandId'), 0xffff)
    const errorReason = readUnsigned(c.next(TAG.ctx1, 'errorReason'), 0xffff)
    const sima = c.optional(TAG.ctx2)
    c.finish(true)
    return { kind: 'error', bppCommandId, errorReason, ...(sima === undefined ? {} : { simaResponse: readOctets(sima) }) }
  }
  throw new DerDecodeError('unexpected-tag', `finalResult: expected A0 or A1, found ${formatTag(arm.tag)}`, arm.start)
}

/** NotificationMetadata (BF2F). Exactly one operation bit must be set. */
export function decodeNotificationMetadata (node: DerNode): NotificationMetadata {
  const c = new DerCursor(node, 'NotificationMetadata')
  const seqNumber = readUnsigned(c.next(TAG.ctx0, 'seqNumber'))
  const opNode = c.next(TAG.ctx1, 'profileManagementOperation')
  const bits = setBits(readBitString(opNode))
  if (bits.length !== 1) {
    throw new DerDecodeError('malformed', `profileManagementOperation must have exactly one bit set, has ${bits.length}`, opNode.start)
  }
  const operationBit = bits[0]!
  const operation = NOTIFICATION_OPERATIONS[operationBit]
  if (operation === undefined) throw new DerDecodeError('malformed', `unknown operation bit ${operationBit}`, opNode.start)
  const notificationAddress = readUtf8(c.next(TAG.utf8, 'notificationAddress'))
  const iccidNode = c.optional(TAG.iccid)
  c.finish(true)
  return {
    seqNumber,
    operation,
    operationBit,
    notificationAddress,
    ...(iccidNode === undefined ? {} : { iccid: decodeIccid(readOctets(iccidNode)) })
  }
}

function readSignature (node: DerNode): Uint8Array {
  const signature = readOctets(node)
  if (signature.length !== SIGNATURE_BYTES) {
    throw new DerDecodeError('malformed', `signature of ${signature.length} bytes, expected ${SIGNATURE_BYTES} (r‖s)`, node.start)
  }
  return signature
}
