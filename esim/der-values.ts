// Strict decoders for the primitive DER values the eUICC code needs. The caller checks the tag
// (implicit context tags are common in SGP.22); these check the contents.
import { DerDecodeError, valueBytes } from './der-reader.ts'
import type { DerNode } from './der-reader.ts'

function fail (node: DerNode, message: string): never {
  throw new DerDecodeError('malformed', message, node.start)
}

function primitive (node: DerNode, what: string): Uint8Array {
  if (node.constructed) fail(node, `${what} must be primitive`)
  return valueBytes(node)
}

/** INTEGER contents, minimal two's complement. */
export function readInteger (node: DerNode): bigint {
  const v = primitive(node, 'INTEGER')
  if (v.length === 0) fail(node, 'INTEGER without contents')
  if (v.length > 1 && ((v[0] === 0x00 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80))) {
    throw new DerDecodeError('non-minimal', 'INTEGER with a redundant leading byte', node.start)
  }
  let n = 0n
  for (const b of v) n = (n << 8n) | BigInt(b)
  if (v[0]! >= 0x80) n -= 1n << BigInt(v.length * 8)
  return n
}

/** A non-negative INTEGER up to `max` as a number. */
export function readUnsigned (node: DerNode, max = Number.MAX_SAFE_INTEGER): number {
  const v = primitive(node, 'INTEGER')
  if (v.length > 8) fail(node, `INTEGER of ${v.length} bytes is out of range`)
  const n = readInteger(node)
  if (n < 0n || n > BigInt(max)) fail(node, `INTEGER ${n} is outside 0..${max}`)
  return Number(n)
}

export function readBoolean (node: DerNode): boolean {
  const v = primitive(node, 'BOOLEAN')
  if (v.length !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) fail(node, 'BOOLEAN must be one byte 00 or FF')
  return v[0] === 0xff
}

export function readOctets (node: DerNode): Uint8Array {
  return new Uint8Array(primitive(node, 'OCTET STRING'))
}

/** OBJECT IDENTIFIER in dotted form; every arc minimally encoded. */
export function readOid (node: DerNode): string {
  const v = primitive(node, 'OBJECT IDENTIFIER')
  if (v.length === 0 || v.length > 64) fail(node, 'OBJECT IDENTIFIER of unusable length')
  if ((v[v.length - 1]! & 0x80) !== 0) fail(node, 'OBJECT IDENTIFIER ends inside an arc')
  const arcs: number[] = []
  let arc = 0
  let fresh = true
  for (const b of v) {
    if (fresh && b === 0x80) throw new DerDecodeError('non-minimal', 'OID arc with a leading zero group', node.start)
    if (arc > 0xffffffff) fail(node, 'OID arc out of range')
    arc = arc * 128 + (b & 0x7f)
    fresh = (b & 0x80) === 0
    if (fresh) {
      arcs.push(arc)
      arc = 0
    }
  }
  const first = arcs[0]!
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
  return [...head, ...arcs.slice(1)].join('.')
}

export interface BitString { bytes: Uint8Array, unusedBits: number }

/** BIT STRING with DER's rules: 0..7 unused bits, all of them zero. */
export function readBitString (node: DerNode): BitString {
  const v = primitive(node, 'BIT STRING')
  if (v.length === 0) fail(node, 'BIT STRING without the unused-bits byte')
  const unusedBits = v[0]!
  if (unusedBits > 7 || (v.length === 1 && unusedBits !== 0)) fail(node, `BIT STRING with ${unusedBits} unused bits`)
  const bytes = new Uint8Array(v.subarray(1))
  if (bytes.length > 0 && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
    fail(node, 'BIT STRING with non-zero unused bits')
  }
  return { bytes, unusedBits }
}

/** Whether named bit `position` (0 = most significant bit of the first byte) is set. */
export function bitIsSet (bits: BitString, position: number): boolean {
  const byte = bits.bytes[position >> 3]
  return byte !== undefined && (byte & (0x80 >> (position & 7))) !== 0
}

/** Positions of all set bits, ascending. */
export function setBits (bits: BitString): number[] {
  const out: number[] = []
  for (let i = 0; i < bits.bytes.length * 8; i++) if (bitIsSet(bits, i)) out.push(i)
  return out
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function latin1 (v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.length).toString('latin1')
}
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/

export function readUtf8 (node: DerNode): string {
  try {
    return utf8.decode(primitive(node, 'UTF8String'))
  } catch (err) {
    if (err instanceof DerDecodeError) throw err
    return fail(node, 'UTF8String is not valid UTF-8')
  }
}

/** A directory string: UTF8String, PrintableString, IA5String, TeletexString or BMPString. */
export function readString (node: DerNode): string {
  const v = primitive(node, 'string')
  switch (node.tag) {
    case 0x0c: return readUtf8(node)
    case 0x13: {
      const s = latin1(v)
      if (!PRINTABLE.test(s)) fail(node, 'PrintableString with a forbidden character')
      return s
    }
    case 0x16:
      if (v.some(b => b > 0x7f)) fail(node, 'IA5String with a non-ASCII byte')
      return latin1(v)
    case 0x14: return latin1(v)
    case 0x1e: {
      if (v.length % 2 !== 0) fail(node, 'BMPString of odd length')
      let s = ''
      for (let i = 0; i < v.length; i += 2) s += String.fromCharCode(v[i]! * 256 + v[i + 1]!)
      return s
    }
    default: return fail(node, `tag ${node.tag.toString(16)} is not a string type`)
  }
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/

/** UTCTime (YYMMDDHHMMSSZ, 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) as in RFC 5280. */
export function readTime (node: DerNode): Date {
  const text = latin1(primitive(node, 'time'))
  let m: RegExpExecArray | null
  let year: number
  if (node.tag === 0x17 && (m = UTC_TIME.exec(text)) !== null) {
    year = Number(m[1])
    year += year < 50 ? 2000 : 1900
  } else if (node.tag === 0x18 && (m = GENERALIZED_TIME.exec(text)) !== null) {
    year = Number(m[1])
  } else {
    return fail(node, `not an RFC 5280 time: ${JSON.stringify(text)}`)
  }
  const [month, day, hour, minute, second] = m.slice(2).map(Number) as [number, number, number, number, number]
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    fail(node, `impossible date ${text}`)
  }
  return date
}
