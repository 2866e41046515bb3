// SGP.32 eUICC Packages as the simulated eUICC handles them (ESIM.md "SGP.32: the eIM role"):
//   EuiccPackageRequest BF51 { 30 euiccPackageSigned { 80 eimId, 5A EID, 81 counterValue,
//     82 eimTransactionId?, A0 psmoList { Psmo… } }, 5F37 eimSignature }
// The eIM signature (r‖s) covers the DER of euiccPackageSigned followed by the associationToken `84 01 00`.
// The eUICC checks the eIM id and signature (an unsigned error otherwise), the EID and the counter (a signed
// error: invalidEid 3, replayError 4, counterValueOutOfRange 6), runs the PSMOs and signs the result:
//   EuiccPackageResult BF51 { A0 { 30 { 80 eimId, 81 counterValue, 82 eimTransactionId?, 83 seqNumber,
//     30 { 83 enableResult | 84 disableResult | 85 deleteResult | BF2D listProfileInfoResult |
//          88 setFallbackAttributeResult | 89 unsetFallbackAttributeResult … } }, 5F37 euiccSignEPR } }
// with the eUICC signature over the result data followed by the associationToken (an interpretation, see
// ESIM.md). Errors: A1 { 30 { 80, 81, 82?, 02 euiccPackageErrorCode }, 5F37 } and A2 { 80 eimId, 82? }.
import { verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { DerCursor, DerDecodeError, decodeDer, tlvBytes } from '../esim/der-reader.ts'
import type { DerNode } from '../esim/der-reader.ts'
import { concat, integer, octetString, sequence, tlv, utf8String } from '../esim/der-writer.ts'
import { readOctets, readUnsigned, readUtf8 } from '../esim/der-values.ts'
import { decodeEid } from '../esim/eid.ts'
import { decodeIccid, encodeIccid } from '../esim/iccid.ts'
import type { EuiccModel, OperationOutcome, PendingNotification } from './euicc-model.ts'
import { ResultCode } from './euicc-model.ts'

export const NO_ASSOCIATION_TOKEN = Uint8Array.of(0x84, 0x01, 0x00)
export const MAX_COUNTER_VALUE = 0x7fffff

export const PackageErrorCode = { invalidEid: 3, replayError: 4, counterValueOutOfRange: 6, undefinedError: 127 } as const

export interface EimTrust { eimId: string, publicKey: KeyObject }

export type Psmo =
  | { op: 'enable', iccid: string, rollback: boolean }
  | { op: 'disable' | 'delete' | 'setFallbackAttribute', iccid: string }
  | { op: 'unsetFallbackAttribute', iccid?: string }
  | { op: 'listProfileInfo' }
  | { op: 'unsupported', tag: number }

export interface EuiccPackageRequest {
  eimId: string
  eid: string
  counterValue: number
  eimTransactionId?: Uint8Array
  psmos: Psmo[]
  /** The DER of euiccPackageSigned as received. */
  signedBytes: Uint8Array
  signature: Uint8Array
}

export interface PackageOutcome {
  /** The DER EuiccPackageResult to return to the eIM. */
  result: Uint8Array
  /** signed: the PSMOs ran (each has its own code); error-signed / error-unsigned: the package was refused. */
  kind: 'signed' | 'error-signed' | 'error-unsigned'
  /** Every PSMO returned ok. */
  ok: boolean
  code?: string
  message?: string
  notifications: PendingNotification[]
  inventoryChanged: boolean
}

const TAG = {
  request: 0xbf51,
  signed: 0x30,
  eimId: 0x80,
  eid: 0x5a,
  counter: 0x81,
  transactionId: 0x82,
  psmoList: 0xa0,
  ecoList: 0xa1,
  signature: 0x5f37,
  iccid: 0x5a,
  rollback: 0x81,
  enable: 0xa3,
  disable: 0xa4,
  delete: 0xa5,
  listProfileInfo: 0xbf2d,
  setFallback: 0xa8,
  unsetFallback: 0xa9
} as const

export function decodeEuiccPackageRequest (der: Uint8Array): EuiccPackageRequest {
  const root = decodeDer(der, { maxLength: 16 * 1024 })
  if (root.tag !== TAG.request) throw new DerDecodeError('unexpected-tag', 'EuiccPackageRequest: expected BF51', 0)
  const outer = new DerCursor(root, 'EuiccPackageRequest')
  const signedNode = outer.next(TAG.signed, 'euiccPackageSigned')
  const signature = readOctets(outer.next(TAG.signature, 'eimSignature'))
  outer.finish()
  if (signature.length !== 64) throw new DerDecodeError('malformed', `eimSignature of ${signature.length} bytes, expected 64 (r‖s)`)
  const c = new DerCursor(signedNode, 'euiccPackageSigned')
  const eimId = readUtf8(c.next(TAG.eimId, 'eimId'))
  const eid = decodeEid(readOctets(c.next(TAG.eid, 'eidValue')))
  const counterValue = readUnsigned(c.next(TAG.counter, 'counterValue'))
  const txNode = c.optional(TAG.transactionId)
  const eimTransactionId = txNode === undefined ? undefined : readOctets(txNode)
  if (eimTransactionId !== undefined && (eimTransactionId.length < 1 || eimTransactionId.length > 16)) {
    throw new DerDecodeError('malformed', 'eimTransactionId must be 1–16 bytes')
  }
  const list = c.optional(TAG.psmoList)
  if (list === undefined) {
    if (c.optional(TAG.ecoList) !== undefined) return { eimId, eid, counterValue, ...(eimTransactionId === undefined ? {} : { eimTransactionId }), psmos: [{ op: 'unsupported', tag: TAG.ecoList }], signedBytes: new Uint8Array(tlvBytes(signedNode)), signature }
    throw new DerDecodeError('truncated', 'euiccPackageSigned: euiccPackage (A0 psmoList) is missing')
  }
  c.finish(true)
  return {
    eimId,
    eid,
    counterValue,
    ...(eimTransactionId === undefined ? {} : { eimTransactionId }),
    psmos: list.children.map(decodePsmo),
    signedBytes: new Uint8Array(tlvBytes(signedNode)),
    signature
  }
}

function iccidIn (node: DerNode, what: string): string {
  return decodeIccid(readOctets(new DerCursor(node, what).next(TAG.iccid, 'iccid')))
}

function decodePsmo (node: DerNode): Psmo {
  switch (node.tag) {
    case TAG.enable: {
      const c = new DerCursor(node, 'enable')
      const iccid = decodeIccid(readOctets(c.next(TAG.iccid, 'iccid')))
      const rollback = c.optional(TAG.rollback) !== undefined
      c.finish(true)
      return { op: 'enable', iccid, rollback }
    }
    case TAG.disable: return { op: 'disable', iccid: iccidIn(node, 'disable') }
    case TAG.delete: return { op: 'delete', iccid: iccidIn(node, 'delete') }
    case TAG.setFallback: return { op: 'setFallbackAttribute', iccid: iccidIn(node, 'setFallbackAttribute') }
    case TAG.unsetFallback: {
      const iccid = node.constructed && node.children.some((c) => c.tag === TAG.iccid) ? iccidIn(node, 'unsetFallbackAttribute') : undefined
      return { op: 'unsetFallbackAttribute', ...(iccid === undefined ? {} : { iccid }) }
    }
    case TAG.listProfileInfo: return { op: 'listProfileInfo' }
    default: return { op: 'unsupported', tag: node.tag }
  }
}

/** Checks and runs a package on `euicc`. Never throws: an undecodable package is an unsigned error. */
export function processEuiccPackage (euicc: EuiccModel, der: Uint8Array, trust: EimTrust | null): PackageOutcome {
  let request: EuiccPackageRequest
  try {
    request = decodeEuiccPackageRequest(der)
  } catch (err) {
    return unsigned(trust?.eimId ?? '', undefined, 'malformed-package', `the eUICC Package cannot be decoded: ${(err as Error).message}`)
  }
  const tx = request.eimTransactionId
  if (trust === null || trust.eimId !== request.eimId) {
    return unsigned(request.eimId, tx, 'unknown-eim', `eIM "${request.eimId}" is not associated with this eUICC`)
  }
  let valid = false
  try {
    valid = verify('sha256', concat([request.signedBytes, NO_ASSOCIATION_TOKEN]), { key: trust.publicKey, dsaEncoding: 'ieee-p1363' }, request.signature)
  } catch { valid = false }
  if (!valid) return unsigned(request.eimId, tx, 'bad-eim-signature', 'the eIM signature does not verify with the eIM public key')

  if (request.eid !== euicc.eid) return signedError(euicc, request, PackageErrorCode.invalidEid, 'invalid-eid', `package for EID ${request.eid}, this eUICC is ${euicc.eid}`)
  if (request.counterValue > MAX_COUNTER_VALUE) return signedError(euicc, request, PackageErrorCode.counterValueOutOfRange, 'counter-out-of-range', `counter ${request.counterValue} > ${MAX_COUNTER_VALUE}`)
  if (request.counterValue <= euicc.eimCounter) return signedError(euicc, request, PackageErrorCode.replayError, 'replay', `counter ${request.counterValue} ≤ last accepted ${euicc.eimCounter}`)
  if (request.psmos.some((p) => p.op === 'unsupported')) {
    euicc.eimCounter = request.counterValue
    return signedError(euicc, request, PackageErrorCode.undefinedError, 'unsupported-psmo', 'the package holds an operation this simulator does not implement')
  }
  euicc.eimCounter = request.counterValue

  const results: Uint8Array[] = []
  const notifications: PendingNotification[] = []
  let ok = true
  let inventoryChanged = false
  const run = (tag: number, outcome: OperationOutcome) => {
    if (outcome.ok) notifications.push(...outcome.notifications)
    else ok = false
    results.push(integer(outcome.ok ? ResultCode.ok : outcome.reason, tag))
    if (outcome.ok) inventoryChanged = true
  }
  for (const psmo of request.psmos) {
    switch (psmo.op) {
      case 'enable': run(0x83, euicc.enable(psmo.iccid)); break
      case 'disable': run(0x84, euicc.disable(psmo.iccid)); break
      case 'delete': run(0x85, euicc.delete(psmo.iccid)); break
      case 'setFallbackAttribute': run(0x88, euicc.setFallback(psmo.iccid)); break
      case 'unsetFallbackAttribute': run(0x89, euicc.unsetFallback(psmo.iccid)); break
      case 'listProfileInfo': results.push(encodeProfileInfoList(euicc)); break
    }
  }
  const data = sequence(
    utf8String(request.eimId, 0x80),
    integer(request.counterValue, 0x81),
    ...(tx === undefined ? [] : [octetString(tx, 0x82)]),
    integer(euicc.nextSeqNumber(), 0x83),
    sequence(...results))
  const result = tlv(TAG.request, tlv(0xa0, data, octetString(euicc.sign(concat([data, NO_ASSOCIATION_TOKEN])), 0x5f37)))
  return {
    result,
    kind: 'signed',
    ok,
    ...(ok ? {} : { code: 'psmo-failed', message: 'one or more operations of the package failed' }),
    notifications,
    inventoryChanged
  }
}

/** listProfileInfoResult BF2D { A0 profileInfoListOk { E3 ProfileInfo… } }. */
function encodeProfileInfoList (euicc: EuiccModel): Uint8Array {
  return tlv(0xbf2d, tlv(0xa0, ...euicc.profiles.map((p) => tlv(0xe3,
    octetString(encodeIccid(p.iccid), 0x5a),
    octetString(Uint8Array.from(Buffer.from(p.aid, 'hex')), 0x4f),
    integer(p.state === 'enabled' ? 1 : 0, 0x9f70),
    utf8String(p.spn, 0x91),
    utf8String(p.name, 0x92),
    integer(2, 0x95)))))
}

function signedError (euicc: EuiccModel, request: EuiccPackageRequest, errorCode: number, code: string, message: string): PackageOutcome {
  const data = sequence(
    utf8String(request.eimId, 0x80),
    integer(request.counterValue, 0x81),
    ...(request.eimTransactionId === undefined ? [] : [octetString(request.eimTransactionId, 0x82)]),
    integer(errorCode))
  const result = tlv(TAG.request, tlv(0xa1, data, octetString(euicc.sign(concat([data, NO_ASSOCIATION_TOKEN])), 0x5f37)))
  return { result, kind: 'error-signed', ok: false, code, message, notifications: [], inventoryChanged: false }
}

function unsigned (eimId: string, tx: Uint8Array | undefined, code: string, message: string): PackageOutcome {
  const result = tlv(TAG.request, tlv(0xa2,
    ...(eimId === '' ? [] : [utf8String(eimId.slice(0, 128), 0x80)]),
    ...(tx === undefined ? [] : [octetString(tx, 0x82)])))
  return { result, kind: 'error-unsigned', ok: false, code, message, notifications: [], inventoryChanged: false }
}
