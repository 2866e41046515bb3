// ICCID (ITU-T E.118): 18–20 digits starting with 89 (telecom industry), then country and issuer.
// E.118 makes the last digit a Luhn check digit over the others; 19- and 20-digit ICCIDs in the
// field carry one, but some issuers' ICCIDs do not, so decoding never rejects on Luhn and
// `isValidIccid(x, { requireLuhn: true })` checks it on demand.
// In BER it is 10 bytes, each byte's two digits swapped, padded with F: 894944… ↔ 98 94 44 … F1.
import { DerDecodeError } from './der-reader.ts'

export const ICCID_BYTES = 10
const ICCID = /^89\d{16,18}$/
const DIGITS = /^\d+$/

export interface IccidOptions {
  /** Also require a correct Luhn check digit at the end. */
  requireLuhn?: boolean
}

export function isValidIccid (iccid: string, options: IccidOptions = {}): boolean {
  if (typeof iccid !== 'string' || !ICCID.test(iccid)) return false
  return options.requireLuhn !== true || luhnValid(iccid)
}

/** The Luhn check digit to append to `digits`. */
export function luhnCheckDigit (digits: string): string {
  if (!DIGITS.test(digits)) throw new RangeError('Luhn input must be decimal digits')
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2
    sum += d
  }
  return String((10 - (sum % 10)) % 10)
}

/** Whether the last digit is the Luhn check digit of the others. */
export function luhnValid (digits: string): boolean {
  return DIGITS.test(digits) && digits.length >= 2 && luhnCheckDigit(digits.slice(0, -1)) === digits.slice(-1)
}

/**
 * A valid ICCID of `length` digits (18–20) starting with `prefix` (which must start with 89):
 * `serial` fills the digits before the Luhn check digit, zero-padded on the left.
 */
export function iccidForPrefix (prefix: string, serial: bigint | number = 0n, length = 19): string {
  if (length < 18 || length > 20) throw new RangeError('ICCID length must be 18–20')
  if (!/^89\d*$/.test(prefix) || prefix.length > length - 1) throw new RangeError('ICCID prefix must be digits starting with 89')
  const width = length - 1 - prefix.length
  const body = BigInt(serial) === 0n ? '0'.repeat(width) : BigInt(serial).toString().padStart(width, '0')
  if (body.startsWith('-') || body.length > width) throw new RangeError('serial does not fit')
  const head = prefix + body
  return head + luhnCheckDigit(head)
}

/** 10 nibble-swapped bytes, F-padded. Throws RangeError unless `iccid` has a valid ICCID format. */
export function encodeIccid (iccid: string): Uint8Array {
  if (!isValidIccid(iccid)) throw new RangeError('an ICCID is 18–20 digits starting with 89')
  const padded = iccid.padEnd(ICCID_BYTES * 2, 'F')
  const out = new Uint8Array(ICCID_BYTES)
  for (let i = 0; i < ICCID_BYTES; i++) out[i] = parseInt(padded[2 * i + 1]! + padded[2 * i]!, 16)
  return out
}

/** Decodes 10 nibble-swapped bytes; F is only accepted as trailing padding. */
export function decodeIccid (bytes: Uint8Array): string {
  if (bytes.length !== ICCID_BYTES) throw new DerDecodeError('malformed', `ICCID must be ${ICCID_BYTES} bytes, got ${bytes.length}`)
  let text = ''
  for (const b of bytes) text += (b & 0x0f).toString(16) + (b >> 4).toString(16)
  const iccid = text.replace(/f+$/, '')
  if (!ICCID.test(iccid)) {
    throw new DerDecodeError('malformed', `ICCID ${text.toUpperCase()} is not 18–20 digits starting with 89 (F only as padding)`)
  }
  return iccid
}
