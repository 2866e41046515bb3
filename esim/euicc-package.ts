// SGP.32 eUICC Packages, the eIM side (ESIM.md "SGP.32: the eIM role"; docs/operations.md):
//   EuiccPackageRequest BF51 { 30 euiccPackageSigned { 80 eimId, 5A EID, 81 counterValue,
//     82 eimTransactionId, A0 psmoList { PSMO… } }, 5F37 eimSignature }
// signed over the DER of euiccPackageSigned followed by the associationToken `84 01 00`, and
//   EuiccPackageResult BF51 { A0 { 30 data { 80 eimId, 81 counterValue, 82 eimTransactionId?, 83 seqNumber,
//     30 { per-PSMO results } }, 5F37 euiccSignEPR }
//   | A1 { 30 { 80 eimId, 81 counterValue, 82 eimTransactionId?, 02 errorCode }, 5F37 }   (signed error)
//   | A2 { 80 eimId?, 82 eimTransactionId? }                                             (unsigned error) }
// with the eUICC signature over the data TLV as received followed by `84 01 00`.
import { sign, verify, type KeyObject } from 'node:crypto'
import type { CommandOp } from '../protocol/commands.ts'
import { DerCursor, DerDecodeError, decodeDer, tlvBytes, type DerNode } from './der-reader.ts'
import { readOctets, readUnsigned, readUtf8 } from './der-values.ts'
import { concat, integer, octetString, sequence, tlv, utf8String } from './der-writer.ts'
import { encodeEid } from './eid.ts'
import { decodeIccid, encodeIccid } from './iccid.ts'

export const NO_ASSOCIATION_TOKEN = Uint8Array.of(0x84, 0x01, 0x00)
export const MAX_COUNTER_VALUE = 0x7fffff

/** Operations carried as a PSMO; `download` is not one (the IPA gets the activation code in the JSON). */
export const PSMO_TAG: Partial<Record<CommandOp, number>> = {
  enable: 0xa3,
  disable: 0xa4,
  delete: 0xa5,
  listProfiles: 0xbf2d,
  setFallback: 0xa8,
  unsetFallback: 0xa9
}

/** Result tags of each PSMO inside the signed result. */
const RESULT_TAG: Record<number, string> = { 0x83: 'enable', 0x84: 'disable', 0x85: 'delete', 0x88: 'setFallback', 0x89: 'unsetFallback', 0xbf2d: 'listProfiles' }

/** Per-PSMO result codes (ESIM.md). */
export const PSMO_RESULT: Record<number, string> = { 0: 'ok', 1: 'iccid-not-found', 2: 'wrong-profile-state', 3: 'disallowed-by-policy', 5: 'cat-busy', 127: 'undefined-error' }
/** euiccPackageErrorCode of a signed error. */
export const PACKAGE_ERROR: Record<number, string> = { 3: 'invalid-eid', 4: 'replay-error', 6: 'counter-value-out-of-range', 127: 'undefined-error' }

export interface PackageRequestInput {
  eimId: string
  eid: string
  counterValue: number
  eimTransactionId: Uint8Array
  op: CommandOp
  iccid?: string | null
  privateKey: KeyObject
}

export function encodePsmo (op: CommandOp, iccid: string | null | undefined): Uint8Array {
  const tag = PSMO_TAG[op]
  if (tag === undefined) throw new RangeError(`${op} is not a PSMO`)
  if (op === 'listProfiles') return tlv(tag)
  if (iccid === null || iccid === undefined) return tlv(tag)
  return tlv(tag, octetString(encodeIccid(iccid), 0x5a))
}

/** The signed EuiccPackageRequest (BF51) for one PSMO. */
export function encodeEuiccPackageRequest (input: PackageRequestInput): Uint8Array {
  if (!Number.isInteger(input.counterValue) || input.counterValue < 1 || input.counterValue > MAX_COUNTER_VALUE) {
    throw new RangeError(`counterValue ${input.counterValue} is outside 1..${MAX_COUNTER_VALUE}`)
  }
  const signed = sequence(
    utf8String(input.eimId, 0x80),
    octetString(encodeEid(input.eid), 0x5a),
    integer(input.counterValue, 0x81),
    octetString(input.eimTransactionId, 0x82),
    tlv(0xa0, encodePsmo(input.op, input.iccid)))
  const signature = sign('sha256', concat([signed, NO_ASSOCIATION_TOKEN]), { key: input.privateKey, dsaEncoding: 'ieee-p1363' })
  return tlv(0xbf51, signed, octetString(new Uint8Array(signature), 0x5f37))
}

export interface PsmoResult { op: string, code: number, reason: string, profiles?: ListedProfile[] }
export interface ListedProfile { iccid: string, state: 'enabled' | 'disabled', name?: string, spn?: string }

export type DecodedPackageResult =
  | { kind: 'signed', eimId: string, counterValue: number, eimTransactionId: Uint8Array | null, seqNumber: number, results: PsmoResult[], signedBytes: Uint8Array, signature: Uint8Array }
  | { kind: 'signed-error', eimId: string, counterValue: number, eimTransactionId: Uint8Array | null, errorCode: number, signedBytes: Uint8Array, signature: Uint8Array }
  | { kind: 'unsigned-error', eimId: string | null, eimTransactionId: Uint8Array | null }

/** Decodes an EuiccPackageResult strictly; throws DerDecodeError on anything else. */
export function decodeEuiccPackageResult (der: Uint8Array): DecodedPackageResult {
  const root = decodeDer(der, { maxLength: 64 * 1024 })
  if (root.tag !== 0xbf51) throw new DerDecodeError('unexpected-tag', 'EuiccPackageResult: expected BF51', 0)
  const outer = new DerCursor(root, 'EuiccPackageResult')
  const arm = root.children[0]
  if (arm === undefined || root.children.length !== 1) throw new DerDecodeError('malformed', 'EuiccPackageResult: expected exactly one choice arm')
  outer.next(arm.tag, 'choice')
  outer.finish()
  if (arm.tag === 0xa2) {
    const c = new DerCursor(arm, 'euiccPackageErrorUnsigned')
    const eimId = c.optional(0x80)
    const tx = c.optional(0x82)
    c.finish(true)
    return { kind: 'unsigned-error', eimId: eimId === undefined ? null : readUtf8(eimId), eimTransactionId: tx === undefined ? null : readOctets(tx) }
  }
  if (arm.tag !== 0xa0 && arm.tag !== 0xa1) throw new DerDecodeError('unexpected-tag', 'EuiccPackageResult: expected A0, A1 or A2', arm.start)
  const c = new DerCursor(arm, arm.tag === 0xa0 ? 'euiccPackageResultSigned' : 'euiccPackageErrorSigned')
  const data = c.next(0x30, 'data')
  const signature = readOctets(c.next(0x5f37, 'signature'))
  c.finish()
  if (signature.length !== 64) throw new DerDecodeError('malformed', `signature of ${signature.length} bytes, expected 64 (r‖s)`)
  const d = new DerCursor(data, 'resultData')
  const eimId = readUtf8(d.next(0x80, 'eimId'))
  const counterValue = readUnsigned(d.next(0x81, 'counterValue'), MAX_COUNTER_VALUE)
  const txNode = d.optional(0x82)
  const eimTransactionId = txNode === undefined ? null : readOctets(txNode)
  const signedBytes = new Uint8Array(tlvBytes(data))
  if (arm.tag === 0xa1) {
    const errorCode = readUnsigned(d.next(0x02, 'euiccPackageErrorCode'), 255)
    d.finish(true)
    return { kind: 'signed-error', eimId, counterValue, eimTransactionId, errorCode, signedBytes, signature }
  }
  const seqNumber = readUnsigned(d.next(0x83, 'seqNumber'))
  const list = d.next(0x30, 'results')
  d.finish(true)
  return { kind: 'signed', eimId, counterValue, eimTransactionId, seqNumber, results: list.children.map(decodePsmoResult), signedBytes, signature }
}

function decodePsmoResult (node: DerNode): PsmoResult {
  const op = RESULT_TAG[node.tag] ?? `tag-${node.tag.toString(16)}`
  if (node.tag === 0xbf2d) {
    // listProfileInfoResult: A0 profileInfoListOk { E3 ProfileInfo… } | A1 error INTEGER
    const arm = node.children[0]
    if (arm?.tag !== 0xa0) return { op, code: 127, reason: 'list-profile-info-error' }
    return { op, code: 0, reason: 'ok', profiles: arm.children.filter((p) => p.tag === 0xe3).map(decodeProfileInfo) }
  }
  if (node.constructed) throw new DerDecodeError('malformed', `PSMO result ${op} must be an INTEGER`, node.start)
  const code = readUnsigned(node, 255)
  return { op, code, reason: PSMO_RESULT[code] ?? `result-${code}` }
}

function decodeProfileInfo (node: DerNode): ListedProfile {
  let iccid = ''
  let state: 'enabled' | 'disabled' = 'disabled'
  let name: string | undefined
  let spn: string | undefined
  for (const child of node.children) {
    if (child.tag === 0x5a) iccid = decodeIccid(readOctets(child))
    else if (child.tag === 0x9f70) state = readUnsigned(child, 255) === 1 ? 'enabled' : 'disabled'
    else if (child.tag === 0x91) spn = readUtf8(child)
    else if (child.tag === 0x92) name = readUtf8(child)
  }
  if (iccid === '') throw new DerDecodeError('malformed', 'ProfileInfo without an ICCID', node.start)
  return { iccid, state, ...(name === undefined ? {} : { name }), ...(spn === undefined ? {} : { spn }) }
}

/** Verifies the eUICC's signature over the result data followed by the associationToken. */
export function verifyPackageResultSignature (result: { signedBytes: Uint8Array, signature: Uint8Array }, euiccPublicKey: KeyObject): boolean {
  try {
    return verify('sha256', concat([result.signedBytes, NO_ASSOCIATION_TOKEN]), { key: euiccPublicKey, dsaEncoding: 'ieee-p1363' }, result.signature)
  } catch {
    return false
  }
}
