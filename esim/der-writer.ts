// A small DER writer for the signing side (notification encoder, test PKI). Tags are given as all
// their bytes in one number, as the reader reports them: 0x30, 0xBF2F, 0x5F37.

export function concat (parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

export function encodeTag (tag: number): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) throw new RangeError(`bad tag ${tag}`)
  const bytes: number[] = []
  let t = tag
  do {
    bytes.unshift(t % 256)
    t = Math.floor(t / 256)
  } while (t > 0)
  return Uint8Array.from(bytes)
}

export function encodeLength (length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new RangeError(`bad length ${length}`)
  if (length < 0x80) return Uint8Array.of(length)
  const bytes: number[] = []
  for (let l = length; l > 0; l = Math.floor(l / 256)) bytes.unshift(l % 256)
  return Uint8Array.from([0x80 | bytes.length, ...bytes])
}

export function tlv (tag: number, ...value: Uint8Array[]): Uint8Array {
  const body = concat(value)
  return concat([encodeTag(tag), encodeLength(body.length), body])
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, ...items)
export const set = (...items: Uint8Array[]): Uint8Array => tlv(0x31, ...items)

export function boolean (value: boolean): Uint8Array {
  return tlv(0x01, Uint8Array.of(value ? 0xff : 0x00))
}

/** Minimal two's complement contents of an INTEGER. */
export function integerContents (value: bigint | number): Uint8Array {
  let v = BigInt(value)
  const bytes: number[] = []
  for (;;) {
    bytes.unshift(Number(v & 0xffn))
    const sign = bytes[0]! & 0x80
    v >>= 8n
    if ((v === 0n && sign === 0) || (v === -1n && sign !== 0)) break
  }
  return Uint8Array.from(bytes)
}

export function integer (value: bigint | number, tag = 0x02): Uint8Array {
  return tlv(tag, integerContents(value))
}

export function octetString (bytes: Uint8Array, tag = 0x04): Uint8Array {
  return tlv(tag, bytes)
}

export function bitString (bytes: Uint8Array, unusedBits = 0, tag = 0x03): Uint8Array {
  return tlv(tag, Uint8Array.of(unusedBits), bytes)
}

/** A named-bit BIT STRING with DER's trailing-zero trimming. */
export function namedBits (positions: readonly number[], tag = 0x03): Uint8Array {
  if (positions.length === 0) return tlv(tag, Uint8Array.of(0))
  const last = Math.max(...positions)
  const bytes = new Uint8Array((last >> 3) + 1)
  for (const p of positions) bytes[p >> 3]! |= 0x80 >> (p & 7)
  return bitString(bytes, 7 - (last & 7), tag)
}

export function oid (dotted: string, tag = 0x06): Uint8Array {
  const arcs = dotted.split('.').map(a => {
    if (!/^\d+$/.test(a)) throw new RangeError(`bad OID ${dotted}`)
    return BigInt(a)
  })
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new RangeError(`bad OID ${dotted}`)
  const bytes: number[] = []
  for (const arc of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    const group: number[] = [Number(arc & 0x7fn)]
    for (let a = arc >> 7n; a > 0n; a >>= 7n) group.unshift(Number(a & 0x7fn) | 0x80)
    bytes.push(...group)
  }
  return tlv(tag, Uint8Array.from(bytes))
}

export function utf8String (text: string, tag = 0x0c): Uint8Array {
  return tlv(tag, new TextEncoder().encode(text))
}

export function printableString (text: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) throw new RangeError(`not printable: ${text}`)
  return tlv(0x13, new TextEncoder().encode(text))
}

/** RFC 5280: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
export function time (date: Date): Uint8Array {
  const y = date.getUTCFullYear()
  if (y < 0 || y > 9999) throw new RangeError('year outside 0–9999')
  const p2 = (n: number): string => String(n).padStart(2, '0')
  const rest = p2(date.getUTCMonth() + 1) + p2(date.getUTCDate()) + p2(date.getUTCHours()) +
    p2(date.getUTCMinutes()) + p2(date.getUTCSeconds()) + 'Z'
  if (y >= 1950 && y < 2050) return tlv(0x17, new TextEncoder().encode(p2(y % 100) + rest))
  return tlv(0x18, new TextEncoder().encode(String(y).padStart(4, '0') + rest))
}
