// SGP.32 eUICC Packages, both directions (ESIM.md "SGP.32: the eIM role"; docs/operations.md). The hub
// encodes requests and decodes results; the simulated eUICC (device-sim/eim-package.ts) decodes requests
// and encodes results. Both read the ASN.1 from here:
//   EuiccPackageRequest BF51 { 30 euiccPackageSigned { 80 eimId, 5A EID, 81 counterValue,
//     82 eimTransactionId?, A0 psmoList { PSMO… } | A1 ecoList }, 5F37 eimSignature }
// signed (r‖s) over the DER of euiccPackageSigned followed by the associationToken `84 01 00`, and
//   EuiccPackageResult BF51 { A0 { 30 data { 80 eimId, 81 counterValue, 82 eimTransactionId?, 83 seqNumber,
//     30 { 83 enableResult | 84 disableResult | 85 deleteResult | BF2D listProfileInfoResult |
//          88 setFallbackAttributeResult | 89 unsetFallbackAttributeResult … } }, 5F37 euiccSignEPR }
//   | A1 { 30 { 80 eimId, 81 counterValue, 82 eimTransactionId?, 02 errorCode }, 5F37 }   (signed error)
//   | A2 { 80 eimId?, 82 eimTransactionId? }                                             (unsigned error) }
// with the eUICC signature over the data TLV as received followed by `84 01 00` (an interpretation, see
// ESIM.md). Signatures are always verified over the bytes received, never over a re-encoding.
import { sign, verify, type KeyObject } from 'node:crypto'
import type { CommandOp } from '../protocol/commands.ts'
import { DerCursor, DerDecodeError, decodeDer, tlvBytes, type DerNode } from './der-reader.ts'
import { readOctets, readUnsigned, readUtf8 } from './der-values.ts'
import { concat, integer, octetString, sequence, tlv, utf8String } from './der-writer.ts'
import { decodeEid, encodeEid } from './eid.ts'
import { decodeIccid, encodeIccid } from './iccid.ts'

export const NO_ASSOCIATION_TOKEN = Uint8Array.of(0x84, 0x01, 0x00)
export const MAX_COUNTER_VALUE = 0x7fffff

// ---- Tag tables ------------------------------------------------------------------------------------

const TAG = { package: 0xbf51, signed: 0x30, eimId: 0x80, eid: 0x5a, counter: 0x81, transactionId: 0x82, seqNumber: 0x83, psmoList: 0xa0, ecoList: 0xa1, signature: 0x5f37, iccid: 0x5a, rollback: 0x81, resultSigned: 0xa0, errorSigned: 0xa1, errorUnsigned: 0xa2, errorCode: 0x02, profileInfo: 0xe3 } as const

/** The PSMOs this codec knows: the tag of the operation in a request, of its result, and the hub
 * command that sends it. */
export const PSMOS = {
  enable: { request: 0xa3, result: 0x83, command: 'enable' },
  disable: { request: 0xa4, result: 0x84, command: 'disable' },
  delete: { request: 0xa5, result: 0x85, command: 'delete' },
  listProfileInfo: { request: 0xbf2d, result: 0xbf2d, command: 'listProfiles' },
  setFallbackAttribute: { request: 0xa8, result: 0x88, command: 'setFallback' },
  unsetFallbackAttribute: { request: 0xa9, result: 0x89, command: 'unsetFallback' }
} as const satisfies Record<string, { request: number, result: number, command: CommandOp }>
export type PsmoName = keyof typeof PSMOS
const PSMO_NAMES = Object.keys(PSMOS) as PsmoName[]

/** Hub commands carried as a PSMO, with their request tag; `download` is not one (the IPA gets the
 * activation code in the JSON). */
export const PSMO_TAG: Partial<Record<CommandOp, number>> = Object.fromEntries(PSMO_NAMES.map((n) => [PSMOS[n].command, PSMOS[n].request]))
const PSMO_OF_COMMAND = new Map<CommandOp, PsmoName>(PSMO_NAMES.map((n) => [PSMOS[n].command, n]))
const PSMO_OF_REQUEST_TAG = new Map<number, PsmoName>(PSMO_NAMES.map((n) => [PSMOS[n].request, n]))
const COMMAND_OF_RESULT_TAG = new Map<number, string>(PSMO_NAMES.map((n) => [PSMOS[n].result, PSMOS[n].command]))

/** Per-PSMO result codes (ESIM.md). */
export const PSMO_RESULT: Record<number, string> = { 0: 'ok', 1: 'iccid-not-found', 2: 'wrong-profile-state', 3: 'disallowed-by-policy', 5: 'cat-busy', 127: 'undefined-error' }
/** euiccPackageErrorCode of a signed error. */
export const PackageErrorCode = { invalidEid: 3, replayError: 4, counterValueOutOfRange: 6, undefinedError: 127 } as const
export const PACKAGE_ERROR: Record<number, string> = { 3: 'invalid-eid', 4: 'replay-error', 6: 'counter-value-out-of-range', 127: 'undefined-error' }

// ---- Signatures ------------------------------------------------------------------------------------

/** A private key, or a function that signs the given bytes (ECDSA SHA-256, r‖s) with one. */
export type PackageSigner = KeyObject | ((bytes: Uint8Array) => Uint8Array)

/** The signature (r‖s) over `signedBytes` followed by the associationToken. */
export function signPackageData (signedBytes: Uint8Array, signer: PackageSigner): Uint8Array {
  const input = concat([signedBytes, NO_ASSOCIATION_TOKEN])
  return typeof signer === 'function' ? signer(input) : new Uint8Array(sign('sha256', input, { key: signer, dsaEncoding: 'ieee-p1363' }))
}

/** Whether `signature` is valid over `signedBytes` (as received) followed by the associationToken. */
export function verifyPackageSignature (part: { signedBytes: Uint8Array, signature: Uint8Array }, publicKey: KeyObject): boolean {
  try {
    return verify('sha256', concat([part.signedBytes, NO_ASSOCIATION_TOKEN]), { key: publicKey, dsaEncoding: 'ieee-p1363' }, part.signature)
  } catch {
    return false
  }
}
/** The eIM's signature of a decoded request, checked with the eIM public key. */
export const verifyPackageRequestSignature = verifyPackageSignature
/** The eUICC's signature of a decoded signed result or signed error, checked with its certificate's key. */
export const verifyPackageResultSignature = verifyPackageSignature

// ---- Request ---------------------------------------------------------------------------------------

export type Psmo =
  | { op: 'enable', iccid: string, rollback?: boolean }
  | { op: 'disable' | 'delete' | 'setFallbackAttribute', iccid: string }
  | { op: 'unsetFallbackAttribute', iccid?: string }
  | { op: 'listProfileInfo' }
  /** An operation this codec does not model (getRAT, configureImmediateEnable…) or an eCO list. */
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

export interface PackageRequestInput {
  eimId: string
  eid: string
  counterValue: number
  eimTransactionId?: Uint8Array
  psmos: Psmo[]
  /** The eIM's private key. */
  privateKey: PackageSigner
}

/** The PSMO that carries a hub command; throws for an operation that is not one or lacks its ICCID. */
export function psmoOfCommand (op: CommandOp, iccid: string | null | undefined): Psmo {
  const name = PSMO_OF_COMMAND.get(op)
  if (name === undefined) throw new RangeError(`${op} is not a PSMO`)
  if (name === 'listProfileInfo') return { op: name }
  if (name === 'unsetFallbackAttribute') return iccid === null || iccid === undefined ? { op: name } : { op: name, iccid }
  if (iccid === null || iccid === undefined) throw new RangeError(`${op} needs an iccid`)
  return { op: name, iccid }
}

export function encodePsmo (psmo: Psmo): Uint8Array {
  if (psmo.op === 'unsupported') return tlv(psmo.tag)
  const tag = PSMOS[psmo.op].request
  if (psmo.op === 'listProfileInfo' || psmo.iccid === undefined) return tlv(tag)
  const iccid = octetString(encodeIccid(psmo.iccid), TAG.iccid)
  return psmo.op === 'enable' && psmo.rollback === true ? tlv(tag, iccid, tlv(TAG.rollback)) : tlv(tag, iccid)
}

/** The signed EuiccPackageRequest (BF51). */
export function encodeEuiccPackageRequest (input: PackageRequestInput): Uint8Array {
  if (!Number.isInteger(input.counterValue) || input.counterValue < 1 || input.counterValue > MAX_COUNTER_VALUE) {
    throw new RangeError(`counterValue ${input.counterValue} is outside 1..${MAX_COUNTER_VALUE}`)
  }
  const signed = sequence(
    utf8String(input.eimId, TAG.eimId),
    octetString(encodeEid(input.eid), TAG.eid),
    integer(input.counterValue, TAG.counter),
    ...(input.eimTransactionId === undefined ? [] : [octetString(input.eimTransactionId, TAG.transactionId)]),
    tlv(TAG.psmoList, ...input.psmos.map(encodePsmo)))
  return tlv(TAG.package, signed, octetString(signPackageData(signed, input.privateKey), TAG.signature))
}

/** Decodes an EuiccPackageRequest strictly (the signature is not checked here); throws DerDecodeError. */
export function decodeEuiccPackageRequest (der: Uint8Array): EuiccPackageRequest {
  const root = decodeDer(der, { maxLength: 16 * 1024 })
  if (root.tag !== TAG.package) throw new DerDecodeError('unexpected-tag', 'EuiccPackageRequest: expected BF51', 0)
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
  let psmos: Psmo[]
  const list = c.optional(TAG.psmoList)
  if (list !== undefined) {
    c.finish(true)
    psmos = list.children.map(decodePsmo)
  } else if (c.optional(TAG.ecoList) !== undefined) {
    psmos = [{ op: 'unsupported', tag: TAG.ecoList }]
  } else {
    throw new DerDecodeError('truncated', 'euiccPackageSigned: euiccPackage (A0 psmoList) is missing')
  }
  return { eimId, eid, counterValue, ...(eimTransactionId === undefined ? {} : { eimTransactionId }), psmos, signedBytes: new Uint8Array(tlvBytes(signedNode)), signature }
}

function iccidIn (node: DerNode, what: string): string {
  return decodeIccid(readOctets(new DerCursor(node, what).next(TAG.iccid, 'iccid')))
}

function decodePsmo (node: DerNode): Psmo {
  const op = PSMO_OF_REQUEST_TAG.get(node.tag)
  switch (op) {
    case 'enable': {
      const c = new DerCursor(node, op)
      const iccid = decodeIccid(readOctets(c.next(TAG.iccid, 'iccid')))
      const rollback = c.optional(TAG.rollback) !== undefined
      c.finish(true)
      return { op, iccid, rollback }
    }
    case 'disable': case 'delete': case 'setFallbackAttribute': return { op, iccid: iccidIn(node, op) }
    case 'unsetFallbackAttribute': {
      const iccid = node.constructed && node.children.some((c) => c.tag === TAG.iccid) ? iccidIn(node, op) : undefined
      return { op, ...(iccid === undefined ? {} : { iccid }) }
    }
    case 'listProfileInfo': return { op }
    default: return { op: 'unsupported', tag: node.tag }
  }
}

// ---- Result ----------------------------------------------------------------------------------------

export interface ListedProfile { iccid: string, state: 'enabled' | 'disabled', name?: string, spn?: string }
/** A ProfileInfo as the eUICC lists it (`aid` in hex; profileClass 2 = operational when absent). */
export interface ProfileInfo { iccid: string, aid: string, state: 'enabled' | 'disabled', spn: string, name: string, profileClass?: number }

/** One PSMO's result to encode: a code (PSMO_RESULT), or the profile list of listProfileInfo. */
export type PsmoResultInput =
  | { op: Exclude<PsmoName, 'listProfileInfo'>, code: number }
  | { op: 'listProfileInfo', profiles: readonly ProfileInfo[] }

export type PackageResultInput =
  | { kind: 'signed', eimId: string, counterValue: number, eimTransactionId?: Uint8Array, seqNumber: number, results: PsmoResultInput[] }
  | { kind: 'signed-error', eimId: string, counterValue: number, eimTransactionId?: Uint8Array, errorCode: number }
  | { kind: 'unsigned-error', eimId?: string, eimTransactionId?: Uint8Array }

/** A decoded per-PSMO result; `op` is the hub command's name (`enable`, `listProfiles`…). */
export interface PsmoResult { op: string, code: number, reason: string, profiles?: ListedProfile[] }

export type DecodedPackageResult =
  | { kind: 'signed', eimId: string, counterValue: number, eimTransactionId: Uint8Array | null, seqNumber: number, results: PsmoResult[], signedBytes: Uint8Array, signature: Uint8Array }
  | { kind: 'signed-error', eimId: string, counterValue: number, eimTransactionId: Uint8Array | null, errorCode: number, signedBytes: Uint8Array, signature: Uint8Array }
  | { kind: 'unsigned-error', eimId: string | null, eimTransactionId: Uint8Array | null }

/** The EuiccPackageResult (BF51); `signer` (the eUICC's key) signs the signed arms, the unsigned error needs none. */
export function encodeEuiccPackageResult (result: PackageResultInput, signer?: PackageSigner): Uint8Array {
  const tx = result.eimTransactionId === undefined ? [] : [octetString(result.eimTransactionId, TAG.transactionId)]
  if (result.kind === 'unsigned-error') {
    return tlv(TAG.package, tlv(TAG.errorUnsigned, ...(result.eimId === undefined ? [] : [utf8String(result.eimId, TAG.eimId)]), ...tx))
  }
  if (signer === undefined) throw new TypeError(`a ${result.kind} EuiccPackageResult needs the eUICC's key`)
  const head = [utf8String(result.eimId, TAG.eimId), integer(result.counterValue, TAG.counter), ...tx]
  const data = result.kind === 'signed-error'
    ? sequence(...head, integer(result.errorCode, TAG.errorCode))
    : sequence(...head, integer(result.seqNumber, TAG.seqNumber), sequence(...result.results.map(encodePsmoResult)))
  const arm = result.kind === 'signed-error' ? TAG.errorSigned : TAG.resultSigned
  return tlv(TAG.package, tlv(arm, data, octetString(signPackageData(data, signer), TAG.signature)))
}

function encodePsmoResult (result: PsmoResultInput): Uint8Array {
  if (result.op !== 'listProfileInfo') return integer(result.code, PSMOS[result.op].result)
  // listProfileInfoResult BF2D { A0 profileInfoListOk { E3 ProfileInfo… } }
  return tlv(PSMOS.listProfileInfo.result, tlv(0xa0, ...result.profiles.map((p) => tlv(TAG.profileInfo,
    octetString(encodeIccid(p.iccid), TAG.iccid),
    octetString(Uint8Array.from(Buffer.from(p.aid, 'hex')), 0x4f),
    integer(p.state === 'enabled' ? 1 : 0, 0x9f70),
    utf8String(p.spn, 0x91),
    utf8String(p.name, 0x92),
    integer(p.profileClass ?? 2, 0x95)))))
}

/** Decodes an EuiccPackageResult strictly (the signature is not checked here); throws DerDecodeError. */
export function decodeEuiccPackageResult (der: Uint8Array): DecodedPackageResult {
  const root = decodeDer(der, { maxLength: 64 * 1024 })
  if (root.tag !== TAG.package) throw new DerDecodeError('unexpected-tag', 'EuiccPackageResult: expected BF51', 0)
  const outer = new DerCursor(root, 'EuiccPackageResult')
  const arm = root.children[0]
  if (arm === undefined || root.children.length !== 1) throw new DerDecodeError('malformed', 'EuiccPackageResult: expected exactly one choice arm')
  outer.next(arm.tag, 'choice')
  outer.finish()
  if (arm.tag === TAG.errorUnsigned) {
    const c = new DerCursor(arm, 'euiccPackageErrorUnsigned')
    const eimId = c.optional(TAG.eimId)
    const tx = c.optional(TAG.transactionId)
    c.finish(true)
    return { kind: 'unsigned-error', eimId: eimId === undefined ? null : readUtf8(eimId), eimTransactionId: tx === undefined ? null : readOctets(tx) }
  }
  if (arm.tag !== TAG.resultSigned && arm.tag !== TAG.errorSigned) throw new DerDecodeError('unexpected-tag', 'EuiccPackageResult: expected A0, A1 or A2', arm.start)
  const c = new DerCursor(arm, arm.tag === TAG.resultSigned ? 'euiccPackageResultSigned' : 'euiccPackageErrorSigned')
  const data = c.next(TAG.signed, 'data')
  const signature = readOctets(c.next(TAG.signature, 'signature'))
  c.finish()
  if (signature.length !== 64) throw new DerDecodeError('malformed', `signature of ${signature.length} bytes, expected 64 (r‖s)`)
  const d = new DerCursor(data, 'resultData')
  const eimId = readUtf8(d.next(TAG.eimId, 'eimId'))
  const counterValue = readUnsigned(d.next(TAG.counter, 'counterValue'), MAX_COUNTER_VALUE)
  const txNode = d.optional(TAG.transactionId)
  const eimTransactionId = txNode === undefined ? null : readOctets(txNode)
  const signedBytes = new Uint8Array(tlvBytes(data))
  if (arm.tag === TAG.errorSigned) {
    const errorCode = readUnsigned(d.next(TAG.errorCode, 'euiccPackageErrorCode'), 255)
    d.finish(true)
    return { kind: 'signed-error', eimId, counterValue, eimTransactionId, errorCode, signedBytes, signature }
  }
  const seqNumber = readUnsigned(d.next(TAG.seqNumber, 'seqNumber'))
  const list = d.next(TAG.signed, 'results')
  d.finish(true)
  return { kind: 'signed', eimId, counterValue, eimTransactionId, seqNumber, results: list.children.map(decodePsmoResult), signedBytes, signature }
}

function decodePsmoResult (node: DerNode): PsmoResult {
  const op = COMMAND_OF_RESULT_TAG.get(node.tag) ?? `tag-${node.tag.toString(16)}`
  if (node.tag === PSMOS.listProfileInfo.result) {
    // listProfileInfoResult: A0 profileInfoListOk { E3 ProfileInfo… } | A1 error INTEGER
    const arm = node.children[0]
    if (arm?.tag !== 0xa0) return { op, code: 127, reason: 'list-profile-info-error' }
    return { op, code: 0, reason: 'ok', profiles: arm.children.filter((p) => p.tag === TAG.profileInfo).map(decodeProfileInfo) }
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
    if (child.tag === TAG.iccid) iccid = decodeIccid(readOctets(child))
    else if (child.tag === 0x9f70) state = readUnsigned(child, 255) === 1 ? 'enabled' : 'disabled'
    else if (child.tag === 0x91) spn = readUtf8(child)
    else if (child.tag === 0x92) name = readUtf8(child)
  }
  if (iccid === '') throw new DerDecodeError('malformed', 'ProfileInfo without an ICCID', node.start)
  return { iccid, state, ...(name === undefined ? {} : { name }), ...(spn === undefined ? {} : { spn }) }
}
