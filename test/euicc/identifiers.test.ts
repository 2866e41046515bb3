import t from 'tap'
import { decodeEid, eidCheckDigits, eidForPrefix, eidProblem, encodeEid, isValidEid } from '../../esim/eid.ts'
import {
  decodeIccid, encodeIccid, iccidForPrefix, isValidIccid, luhnCheckDigit, luhnValid
} from '../../esim/iccid.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'))

t.test('EID', async t => {
  const eid = '89049032123451234512345678901235'
  t.ok(isValidEid(eid), 'the SGP.26 test EID is valid')
  t.ok(isValidEid('89044045118427484800000000011628'), 'the sysmocom EID is valid')
  t.equal(eidProblem(eid), undefined)
  t.match(eidProblem('89049032123451234512345678901234'), /check digits/)
  t.match(eidProblem('8904903212345123451234567890123'), /32 decimal digits/)
  t.match(eidProblem('8904903212345123451234567890123A'), /32 decimal digits/)
  t.equal(eidCheckDigits(eid.slice(0, 30)), '35')
  t.throws(() => eidCheckDigits('123'), RangeError)

  const bytes = encodeEid(eid)
  t.same(bytes, hex('89049032123451234512345678901235'), 'plain BCD, not nibble-swapped')
  t.equal(decodeEid(bytes), eid)
  t.throws(() => encodeEid('89049032123451234512345678901234'), RangeError)
  t.throws(() => decodeEid(bytes.subarray(1)), { name: 'DerDecodeError' })
  t.throws(() => decodeEid(hex('8904903212345123451234567890123A')), { name: 'DerDecodeError' })

  for (const serial of [0n, 1n, 42n, 999999999999999999999n]) {
    const made = eidForPrefix('89049032', serial)
    t.ok(isValidEid(made) && made.startsWith('89049032'), `eidForPrefix(${serial}) = ${made}`)
  }
  t.equal(eidForPrefix('890490321234512345123456789012'), eid)
  t.ok(isValidEid(eidForPrefix('8904903212345123451234567890', 12)), 'a check pair that starts with 0 is padded')
  const low = Array.from({ length: 200 }, (_, i) => eidForPrefix('89', i)).find(e => e.endsWith('0' + e.at(-1)!))
  t.ok(low !== undefined && isValidEid(low), 'some EID has a check pair below 10')
  t.throws(() => eidForPrefix('8904x'), RangeError)
  t.throws(() => eidForPrefix('89049032', 10n ** 23n), RangeError)
  t.throws(() => eidForPrefix('89049032', -1), RangeError)
})

t.test('ICCID', async t => {
  const iccid = '8949449999999990031'
  const bytes = hex('98 94 44 99 99 99 99 09 30 F1')
  t.same(encodeIccid(iccid), bytes, 'ESIM.md example encodes')
  t.equal(decodeIccid(bytes), iccid, 'ESIM.md example decodes')
  t.ok(luhnValid(iccid), 'the example carries a Luhn check digit')
  t.ok(isValidIccid(iccid, { requireLuhn: true }))

  const twenty = '89014103211118510720'
  t.equal(decodeIccid(encodeIccid(twenty)), twenty, '20 digits, no padding')
  t.same(encodeIccid(twenty), hex('98 10 14 30 12 11 81 15 70 02'))
  const eighteen = '894944999999999007'
  t.same(encodeIccid(eighteen), hex('98 94 44 99 99 99 99 09 70 FF'))
  t.equal(decodeIccid(encodeIccid(eighteen)), eighteen, '18 digits, FF padding')

  t.notOk(isValidIccid('8949449999999990032', { requireLuhn: true }), 'wrong check digit')
  t.ok(isValidIccid('8949449999999990032'), 'but still an ICCID: some issuers have no Luhn digit')
  t.notOk(isValidIccid('9949449999999990031'), 'must start with 89')
  t.notOk(isValidIccid('89494499999999900'), '17 digits')
  t.notOk(isValidIccid('894944999999999003112'), '21 digits')
  t.throws(() => encodeIccid('123'), RangeError)
  t.throws(() => decodeIccid(bytes.subarray(1)), { name: 'DerDecodeError' })
  t.throws(() => decodeIccid(hex('98 94 44 99 99 F9 99 09 30 F1')), { name: 'DerDecodeError' }, 'F in the middle')
  t.throws(() => decodeIccid(hex('98 94 44 99 99 99 99 09 3A F1')), { name: 'DerDecodeError' }, 'hex digit')
  t.throws(() => decodeIccid(hex('99 94 44 99 99 99 99 09 30 F1')), { name: 'DerDecodeError' }, 'not 89')

  t.equal(luhnCheckDigit('7992739871'), '3', 'the textbook Luhn example')
  t.notOk(luhnValid('1'))
  t.throws(() => luhnCheckDigit('12a'), RangeError)
  for (const length of [18, 19, 20]) {
    const made = iccidForPrefix('8995', 12345, length)
    t.ok(made.length === length && isValidIccid(made, { requireLuhn: true }), `iccidForPrefix length ${length}: ${made}`)
    t.equal(decodeIccid(encodeIccid(made)), made)
  }
  t.equal(iccidForPrefix('894944999999999003'), iccid)
  t.throws(() => iccidForPrefix('12'), RangeError)
  t.throws(() => iccidForPrefix('89', 0, 21), RangeError)
  t.throws(() => iccidForPrefix('89', 10n ** 17n), RangeError)
})
