import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { decodePendingNotification, NOTIFICATION_OPERATIONS } from '../../esim/pending-notification.ts'
import {
  encodeInstallationResult, encodeNotificationMetadata, encodeOtherSignedNotification
} from '../../esim/notification-encoder.ts'
import { integer, octetString, oid, sequence, tlv, utf8String } from '../../esim/der-writer.ts'
import { generateTestKeyPair } from '../../esim/test-pki.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const { privateKey } = generateTestKeyPair()
const fakeCert = sequence(sequence(integer(1)))
const base = { seqNumber: 7, notificationAddress: 'smdp.example.com', iccid: '8949449999999990031' }
const sig = octetString(new Uint8Array(64), 0x5f37)

t.test('other-signed notifications for every operation', async t => {
  for (const operation of NOTIFICATION_OPERATIONS) {
    const input = encodeOtherSignedNotification({
      ...base, operation, privateKey, euiccCertificateDer: fakeCert, eumCertificateDer: fakeCert
    })
    const n = decodePendingNotification(input)
    if (n.kind !== 'other-signed') throw new Error('wrong kind')
    t.same(n.metadata, { ...base, operation, operationBit: NOTIFICATION_OPERATIONS.indexOf(operation) }, operation)
    t.equal(toHex(n.signedBytes), toHex(input.subarray(2, 2 + n.signedBytes.length)), 'signedBytes is the received BF2F TLV')
    t.equal(n.signedBytes[0], 0xbf)
    t.equal(n.signature.length, 64)
    t.same(n.euiccCertificateDer, fakeCert)
    t.same(n.eumCertificateDer, fakeCert)
  }
})

t.test('operation bits on the wire (SGP.22 v2, DER-trimmed)', async t => {
  const wire = { install: '81020780', enable: '81020640', disable: '81020520', delete: '81020410' } as const
  for (const [operation, bytes] of Object.entries(wire)) {
    const metadata = encodeNotificationMetadata({ seqNumber: 1, operation: operation as keyof typeof wire, notificationAddress: 'a' })
    t.ok(toHex(metadata).includes(bytes.toLowerCase()), `${operation} is ${bytes}`)
  }
  const untrimmed = tlv(0xbf2f, integer(1, 0x80), hex('81 02 00 40'), utf8String('a'))
  const n = decodePendingNotification(sequence(untrimmed, sig, fakeCert, fakeCert))
  t.equal(n.metadata.operation, 'enable', 'an untrimmed 8-bit field decodes by bit position')
  const rpm = tlv(0xbf2f, integer(1, 0x80), hex('81 02 00 01'), utf8String('a'))
  t.equal(decodePendingNotification(sequence(rpm, sig, fakeCert, fakeCert)).metadata.operation, 'loadRpmPackageResult')
})

t.test('installation results', async t => {
  const transactionId = hex('00112233445566778899aabbccddeeff')
  const success = decodePendingNotification(encodeInstallationResult({
    ...base,
    operation: 'install',
    privateKey,
    transactionId,
    finalResult: { kind: 'success', aid: hex('A0000005591010FFFFFFFF8900001100'), simaResponse: hex('3003800100') }
  }))
  if (success.kind !== 'installation-result') throw new Error('wrong kind')
  t.same(success.transactionId, transactionId)
  t.equal(success.smdpOid, '2.999.10')
  t.same(success.finalResult, { kind: 'success', aid: hex('A0000005591010FFFFFFFF8900001100'), simaResponse: hex('3003800100') })
  t.equal(success.signedBytes[0], 0xbf)
  t.equal(success.signedBytes[1], 0x27)

  const input = encodeInstallationResult({
    ...base,
    operation: 'install',
    privateKey,
    transactionId: hex('01'),
    smdpOid: null,
    finalResult: { kind: 'error', bppCommandId: 5, errorReason: 127, simaResponse: hex('3000') }
  })
  const error = decodePendingNotification(input)
  if (error.kind !== 'installation-result') throw new Error('wrong kind')
  t.equal(error.smdpOid, undefined, 'SM-DP+ OID absent')
  t.same(error.finalResult, { kind: 'error', bppCommandId: 5, errorReason: 127, simaResponse: hex('3000') })
  t.equal(toHex(error.signedBytes), toHex(input.subarray(3, 3 + error.signedBytes.length)))
  input[10] ^= 0xff
  t.not(error.signedBytes[7], input[10], 'signedBytes is a copy, detached from the input buffer')
})

const real = new URL('../../../shared/testdata/sgp22-real/pir-sysmo-euicc.der', import.meta.url)
t.test('the real sysmocom capture decodes', { skip: existsSync(real) ? false : 'shared testdata is absent (../shared/testdata)' }, async t => {
  const input = new Uint8Array(readFileSync(real))
  const n = decodePendingNotification(input)
  if (n.kind !== 'installation-result') throw new Error('wrong kind')
  t.equal(toHex(n.transactionId), 'e0f1356728a44720b219a3b70c9df57e')
  t.same(n.metadata, {
    seqNumber: 2, operation: 'install', operationBit: 0, notificationAddress: 'testsmdpplus1.example.com', iccid: '8949449999999990031'
  })
  t.equal(n.smdpOid, '2.999.10')
  t.same(n.finalResult, { kind: 'error', bppCommandId: 2, errorReason: 9 })
  t.equal(toHex(n.signedBytes), toHex(input.subarray(4, 4 + 3 + 0x52)), 'BF37 81 98, then BF27 52 …')
})

t.test('malformed notifications', async t => {
  const meta = (op: string, extra: Uint8Array[] = []) => tlv(0xbf2f, integer(1, 0x80), hex(op), utf8String('a'), ...extra)
  const other = (m: Uint8Array, ...rest: Uint8Array[]) => sequence(m, ...rest)
  const bad: Array<[string, Uint8Array, string]> = [
    ['two operation bits', other(meta('81 02 06 C0'), sig, fakeCert, fakeCert), 'malformed'],
    ['no operation bit', other(meta('81 01 00'), sig, fakeCert, fakeCert), 'malformed'],
    ['operation bit 8', other(meta('81 03 07 00 80'), sig, fakeCert, fakeCert), 'malformed'],
    ['63-byte signature', other(meta('81 02 07 80'), octetString(new Uint8Array(63), 0x5f37), fakeCert, fakeCert), 'malformed'],
    ['EUM certificate missing', other(meta('81 02 07 80'), sig, fakeCert), 'truncated'],
    ['extra element', other(meta('81 02 07 80'), sig, fakeCert, fakeCert, fakeCert), 'trailing-data'],
    ['metadata out of order', other(sig, meta('81 02 07 80'), fakeCert, fakeCert), 'unexpected-tag'],
    ['negative seqNumber', other(tlv(0xbf2f, integer(-1, 0x80), hex('81 02 07 80'), utf8String('a')), sig, fakeCert, fakeCert), 'malformed'],
    ['bad ICCID', other(meta('81 02 07 80', [octetString(hex('11'), 0x5a)]), sig, fakeCert, fakeCert), 'malformed'],
    ['unknown shape', tlv(0xbf2b, hex('80 01 01')), 'unexpected-tag'],
    ['non-minimal length inside', sequence(hex('BF 2F 81 0B 80 01 01 81 02 07 80 0C 02 61 61'), sig, fakeCert, fakeCert), 'non-minimal'],
    ['indefinite length', hex('30 80 00 00'), 'indefinite-length']
  ]
  const pir = (data: Uint8Array[], signature = sig) => tlv(0xbf37, tlv(0xbf27, ...data), signature)
  const m = meta('81 02 07 80')
  bad.push(
    ['finalResult with two arms', pir([octetString(hex('01'), 0x80), m, oid('2.999.10'), tlv(0xa2, tlv(0xa1, integer(1, 0x80), integer(1, 0x81)), tlv(0xa1))]), 'malformed'],
    ['finalResult with another arm', pir([octetString(hex('01'), 0x80), m, tlv(0xa2, tlv(0xa3))]), 'unexpected-tag'],
    ['transactionId of 17 bytes', pir([octetString(new Uint8Array(17), 0x80), m, tlv(0xa2, tlv(0xa1, integer(1, 0x80), integer(1, 0x81)))]), 'malformed'],
    ['AID of 4 bytes', pir([octetString(hex('01'), 0x80), m, tlv(0xa2, tlv(0xa0, octetString(hex('A0000005'), 0x4f), octetString(hex(''))))]), 'malformed'],
    ['result signature missing', tlv(0xbf37, tlv(0xbf27, octetString(hex('01'), 0x80), m, tlv(0xa2, tlv(0xa1, integer(1, 0x80), integer(1, 0x81))))), 'truncated']
  )
  for (const [what, input, code] of bad) {
    t.throws(() => decodePendingNotification(input), { name: 'DerDecodeError', code }, what)
  }
  const extended = decodePendingNotification(other(meta('81 02 07 80', [octetString(encodeIccidBytes(), 0x5a), tlv(0x9f20, hex('00'))]), sig, fakeCert, fakeCert))
  t.equal(extended.metadata.iccid, '8949449999999990031', 'unknown extension elements after the known ones are skipped')
})

function encodeIccidBytes (): Uint8Array {
  return hex('98 94 44 99 99 99 99 09 30 F1')
}
