import t from 'tap'
import { DerCursor, DerDecodeError, decodeDer, expectTag, formatTag, tlvBytes, valueBytes } from '../../esim/der-reader.ts'
import {
  bitIsSet, readBitString, readBoolean, readInteger, readOid, readString, readTime, readUnsigned, readUtf8, setBits
} from '../../esim/der-values.ts'
import { bitString, encodeLength, encodeTag, integer, namedBits, oid, time, tlv } from '../../esim/der-writer.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'))

t.test('multi-byte tags and exact byte ranges', async t => {
  const input = hex('BF2F 07 80 01 05 81 02 07 80 5F37 00')
  const root = decodeDer(new Uint8Array([0x30, input.length, ...input]))
  t.equal(root.tag, 0x30)
  const [meta, sig] = root.children
  t.equal(meta!.tag, 0xbf2f)
  t.equal(meta!.tagClass, 'context')
  t.equal(meta!.tagNumber, 47)
  t.ok(meta!.constructed)
  t.same([meta!.start, meta!.headerLength, meta!.valueStart, meta!.end], [2, 3, 5, 12])
  t.same(Buffer.from(tlvBytes(meta!)).toString('hex'), 'bf2f07800105810207 80'.replace(' ', ''))
  t.equal(sig!.tag, 0x5f37)
  t.equal(sig!.tagClass, 'application')
  t.equal(sig!.tagNumber, 55)
  t.equal(valueBytes(sig!).length, 0)
  t.equal(meta!.children[1]!.tag, 0x81)
  t.equal(formatTag(0x5f37), '5F37')
  t.equal(formatTag(0x5a), '5A')
})

t.test('long-form lengths', async t => {
  const body = new Uint8Array(200)
  const node = decodeDer(new Uint8Array([0x04, 0x81, 200, ...body]))
  t.same([node.headerLength, node.end], [3, 203])
  const big = new Uint8Array(300)
  t.equal(decodeDer(new Uint8Array([0x04, 0x82, 0x01, 0x2c, ...big])).end, 304)
  t.same(encodeLength(300), [0x82, 0x01, 0x2c])
  t.same(encodeTag(0xbf2f), [0xbf, 0x2f])
})

t.test('strictness', async t => {
  const cases: Array<[string, string, string]> = [
    ['indefinite length', '30 80 00 00', 'indefinite-length'],
    ['non-minimal long form', '04 81 01 00', 'non-minimal'],
    ['reserved length', '04 FF', 'malformed'],
    ['five length bytes', '04 85 00 00 00 00 01 00', 'too-large'],
    ['truncated value', '04 05 00 00', 'truncated'],
    ['truncated length', '04 82 01', 'truncated'],
    ['missing length', '04', 'truncated'],
    ['truncated tag', 'BF', 'truncated'],
    ['empty', '', 'truncated'],
    ['trailing data', '04 00 00', 'trailing-data'],
    ['child past its parent', '30 03 04 05 00 00 00 00 00', 'truncated'],
    ['high-tag form for a low number', '9F 1E 00', 'non-minimal'],
    ['tag with leading zero group', '9F 80 2F 00', 'non-minimal'],
    ['five-byte tag', '9F 81 81 81 01 00', 'too-large'],
    ['primitive SEQUENCE', '10 00', 'malformed'],
    ['constructed OCTET STRING', '24 00', 'malformed'],
    ['end-of-contents tag', '00 00', 'malformed']
  ]
  for (const [what, input, code] of cases) {
    t.throws(() => decodeDer(hex(input)), { name: 'DerDecodeError', code }, `${what}: ${input} → ${code}`)
  }
  t.throws(() => decodeDer('30 00' as unknown as Uint8Array), { code: 'malformed' }, 'not bytes')
})

t.test('bounds on total length and depth', async t => {
  t.throws(() => decodeDer(new Uint8Array(100).fill(4), { maxLength: 50 }), { code: 'too-large' })
  let nested: Uint8Array = hex('05 00')
  for (let i = 0; i < 40; i++) nested = tlv(0x30, nested)
  t.throws(() => decodeDer(nested), { code: 'too-deep' })
  t.equal(decodeDer(nested, { maxDepth: 41 }).children.length, 1)
  const err = new DerDecodeError('malformed', 'x', 3)
  t.equal(err.message, 'x (at byte 3)')
  t.ok(err instanceof Error)
})

t.test('cursor', async t => {
  const root = decodeDer(hex('30 06 80 01 01 81 01 02'))
  const c = new DerCursor(root, 'Test')
  t.equal(c.peekTag(), 0x80)
  t.equal(c.optional(0x82), undefined)
  t.equal(readUnsigned(c.next(0x80, 'a')), 1)
  t.throws(() => c.finish(), { code: 'trailing-data' })
  c.finish(true)
  t.throws(() => c.next(0x82, 'b'), { code: 'unexpected-tag' })
  t.throws(() => c.next(0x81, 'c') && c.next(0x82, 'd'), { code: 'truncated' })
  t.throws(() => new DerCursor(decodeDer(hex('04 00')), 'x'), { code: 'malformed' })
  t.throws(() => expectTag(root, 0x31, 'root'), { code: 'unexpected-tag' })
})

t.test('INTEGER', async t => {
  for (const n of [0n, 1n, 127n, 128n, 255n, 256n, -1n, -128n, -129n, 2n ** 70n]) {
    t.equal(readInteger(decodeDer(integer(n))), n, `round trip ${n}`)
  }
  t.throws(() => readInteger(decodeDer(hex('02 02 00 7F'))), { code: 'non-minimal' })
  t.throws(() => readInteger(decodeDer(hex('02 02 FF 80'))), { code: 'non-minimal' })
  t.throws(() => readInteger(decodeDer(hex('02 00'))), { code: 'malformed' })
  t.throws(() => readUnsigned(decodeDer(hex('02 01 FF'))), { code: 'malformed' })
  t.throws(() => readUnsigned(decodeDer(integer(2n ** 70n))), { code: 'malformed' })
  t.throws(() => readUnsigned(decodeDer(integer(300)), 255), { code: 'malformed' })
  t.throws(() => readInteger(decodeDer(hex('30 00'))), { code: 'malformed' })
})

t.test('BOOLEAN, OID, BIT STRING', async t => {
  t.equal(readBoolean(decodeDer(hex('01 01 FF'))), true)
  t.equal(readBoolean(decodeDer(hex('01 01 00'))), false)
  t.throws(() => readBoolean(decodeDer(hex('01 01 01'))), { code: 'malformed' })
  for (const o of ['2.23.146.1.2.2.0', '1.2.840.10045.4.3.2', '2.999.10', '0.9.2342', '2.5.4.5']) {
    t.equal(readOid(decodeDer(oid(o))), o)
  }
  t.throws(() => readOid(decodeDer(hex('06 02 80 01'))), { code: 'non-minimal' })
  t.throws(() => readOid(decodeDer(hex('06 01 81'))), { code: 'malformed' })
  t.throws(() => readOid(decodeDer(hex('06 00'))), { code: 'malformed' })
  t.throws(() => readOid(decodeDer(hex('06 07 2A FF FF FF FF FF 01'))), { code: 'malformed' })
  t.throws(() => oid('1'), RangeError)
  const bits = readBitString(decodeDer(namedBits([0, 5])))
  t.same(setBits(bits), [0, 5])
  t.ok(bitIsSet(bits, 5))
  t.notOk(bitIsSet(bits, 40))
  t.same(namedBits([1], 0x81), hex('81 02 06 40'))
  t.same(namedBits([]), hex('03 01 00'))
  t.throws(() => readBitString(decodeDer(hex('03 02 01 81'))), { code: 'malformed' }, 'unused bit set')
  t.throws(() => readBitString(decodeDer(hex('03 01 01'))), { code: 'malformed' })
  t.throws(() => readBitString(decodeDer(hex('03 02 08 00'))), { code: 'malformed' })
  t.throws(() => readBitString(decodeDer(hex('03 00'))), { code: 'malformed' })
  t.same(bitString(hex('80'), 7), hex('03 02 07 80'))
})

t.test('strings', async t => {
  t.equal(readUtf8(decodeDer(hex('0C 03 E2 82 AC'))), '€')
  t.throws(() => readUtf8(decodeDer(hex('0C 01 FF'))), { code: 'malformed' })
  t.equal(readString(decodeDer(hex('13 02 41 42'))), 'AB')
  t.throws(() => readString(decodeDer(hex('13 01 40'))), { code: 'malformed' })
  t.equal(readString(decodeDer(hex('16 01 40'))), '@')
  t.throws(() => readString(decodeDer(hex('16 01 80'))), { code: 'malformed' })
  t.equal(readString(decodeDer(hex('14 01 E9'))), 'é')
  t.equal(readString(decodeDer(hex('1E 02 00 41'))), 'A')
  t.throws(() => readString(decodeDer(hex('1E 01 00'))), { code: 'malformed' })
  t.throws(() => readString(decodeDer(hex('04 01 00'))), { code: 'malformed' })
})

t.test('times', async t => {
  for (const iso of ['2020-04-01T09:48:58Z', '1950-01-01T00:00:00Z', '2049-12-31T23:59:59Z', '7496-01-24T09:48:58Z', '2050-01-01T00:00:00Z']) {
    t.equal(readTime(decodeDer(time(new Date(iso)))).toISOString(), iso.replace('Z', '.000Z'))
  }
  t.equal(time(new Date('2020-04-01T09:48:58Z'))[0], 0x17)
  t.equal(time(new Date('7496-01-24T09:48:58Z'))[0], 0x18)
  const bad = (tag: number, s: string) => () => readTime(decodeDer(tlv(tag, new TextEncoder().encode(s))))
  t.throws(bad(0x17, '200230000000Z'), { code: 'malformed' }, 'February 30')
  t.throws(bad(0x17, '200101246000Z'), { code: 'malformed' })
  t.throws(bad(0x18, '20200101000000.5Z'), { code: 'malformed' }, 'fractions')
  t.throws(bad(0x17, '20200101000000Z'), { code: 'malformed' }, 'four-digit UTCTime')
  t.throws(bad(0x04, '200101000000Z'), { code: 'malformed' })
})
