// EID: 32 decimal digits whose value mod 97 equals 1 (the last two digits are the check pair, as in
// IBAN). In BER it is 16 bytes of plain BCD, high nibble first (tag 5A, not nibble-swapped).
import { DerDecodeError } from './der-reader.ts'

export const EID_DIGITS = 32
export const EID_BYTES = 16
const DIGITS = /^\d+$/

/** Why `eid` is not a valid EID, or undefined when it is. */
export function eidProblem (eid: string): string | undefined {
  if (typeof eid !== 'string' || eid.length !== EID_DIGITS || !DIGITS.test(eid)) return 'an EID is 32 decimal digits'
  if (BigInt(eid) % 97n !== 1n) return 'EID check digits are wrong (EID mod 97 must be 1)'
  return undefined
}

export function isValidEid (eid: string): boolean {
  return eidProblem(eid) === undefined
}

/** The two check digits for the first 30 digits of an EID. */
export function eidCheckDigits (first30: string): string {
  if (first30.length !== EID_DIGITS - 2 || !DIGITS.test(first30)) throw new RangeError('expected the first 30 digits of an EID')
  return String(98n - (BigInt(first30) * 100n) % 97n).padStart(2, '0')
}

/**
 * A valid EID starting with `prefix` (e.g. the EUM's permitted prefix `89049032`): `serial` fills the
 * digits up to 30, zero-padded on the left, then the check pair follows.
 */
export function eidForPrefix (prefix: string, serial: bigint | number = 0n): string {
  if (!DIGITS.test(prefix) || prefix.length > EID_DIGITS - 2) throw new RangeError('EID prefix must be 1–30 digits')
  const width = EID_DIGITS - 2 - prefix.length
  const body = BigInt(serial) === 0n ? '0'.repeat(width) : BigInt(serial).toString().padStart(width, '0')
  if (body.startsWith('-') || body.length > width) throw new RangeError('serial does not fit')
  const first30 = prefix + body
  return first30 + eidCheckDigits(first30)
}

/** 16 bytes of plain BCD. Throws RangeError unless `eid` is a valid EID. */
export function encodeEid (eid: string): Uint8Array {
  const problem = eidProblem(eid)
  if (problem !== undefined) throw new RangeError(problem)
  return Uint8Array.from(Buffer.from(eid, 'hex'))
}

/** The 32 digits of a 16-byte BCD EID. The check pair is not checked here: see `isValidEid`. */
export function decodeEid (bytes: Uint8Array): string {
  if (bytes.length !== EID_BYTES) throw new DerDecodeError('malformed', `EID must be ${EID_BYTES} bytes, got ${bytes.length}`)
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
  if (!DIGITS.test(text)) throw new DerDecodeError('malformed', 'EID contains a non-decimal nibble')
  return text
}
