// The SGP.32 package codec (esim/euicc-package.ts) in both directions: what the hub encodes the simulated
// eUICC decodes, what the eUICC encodes the hub decodes and verifies, and a tampered signature is refused.
import { generateKeyPairSync, sign } from 'node:crypto'
import t from 'tap'
import {
  decodeEuiccPackageRequest, decodeEuiccPackageResult, encodeEuiccPackageRequest, encodeEuiccPackageResult,
  psmoOfCommand, verifyPackageRequestSignature, verifyPackageResultSignature, type DecodedPackageResult
} from '../../esim/euicc-package.ts'

const eim = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const euicc = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' })
const EID = '89049032123451234512345678901235'
const tx = Uint8Array.of(0x01, 0x02, 0x03, 0x04)

function signedArm (result: DecodedPackageResult) {
  if (result.kind === 'unsigned-error') throw new Error('expected a signed arm')
  return result
}

function tampered (bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[copy.length - 1]! ^= 0x01 // the last byte of the 5F37 signature, the last TLV of both messages
  return copy
}

t.test('request: encode → decode keeps every field and the eIM signature verifies', async (t) => {
  const der = encodeEuiccPackageRequest({
    eimId: 'hub-eim.example',
    eid: EID,
    counterValue: 42,
    eimTransactionId: tx,
    psmos: [
      { op: 'enable', iccid: '8995010000000000018', rollback: true },
      psmoOfCommand('disable', '8995050000000000011'),
      psmoOfCommand('listProfiles', null),
      psmoOfCommand('unsetFallback', null),
      { op: 'unsupported', tag: 0xa6 }
    ],
    privateKey: eim.privateKey
  })
  const request = decodeEuiccPackageRequest(der)
  t.same({ ...request, signedBytes: undefined, signature: undefined }, {
    eimId: 'hub-eim.example',
    eid: EID,
    counterValue: 42,
    eimTransactionId: tx,
    psmos: [
      { op: 'enable', iccid: '8995010000000000018', rollback: true },
      { op: 'disable', iccid: '8995050000000000011' },
      { op: 'listProfileInfo' },
      { op: 'unsetFallbackAttribute' },
      { op: 'unsupported', tag: 0xa6 }
    ],
    signedBytes: undefined,
    signature: undefined
  })
  t.equal(request.signature.length, 64)
  t.equal(verifyPackageRequestSignature(request, eim.publicKey), true)
  t.equal(verifyPackageRequestSignature(request, euicc.publicKey), false, 'another key does not verify')
  t.equal(verifyPackageRequestSignature(decodeEuiccPackageRequest(tampered(der)), eim.publicKey), false, 'a tampered signature is refused')
  t.throws(() => psmoOfCommand('download', null), RangeError)
  t.throws(() => psmoOfCommand('enable', null), RangeError)
  t.throws(() => encodeEuiccPackageRequest({ eimId: 'e', eid: EID, counterValue: 0x800000, psmos: [], privateKey: eim.privateKey }), RangeError)
})

t.test('signed result: encode → decode → verify, and a tampered signature is refused', async (t) => {
  const der = encodeEuiccPackageResult({
    kind: 'signed',
    eimId: 'hub-eim.example',
    counterValue: 42,
    eimTransactionId: tx,
    seqNumber: 7,
    results: [
      { op: 'enable', code: 0 },
      { op: 'disable', code: 2 },
      { op: 'setFallbackAttribute', code: 0 },
      { op: 'listProfileInfo', profiles: [{ iccid: '8995010000000000018', aid: 'A0000005591010FFFFFFFF8900001000', state: 'enabled', spn: 'MPT', name: 'MPT IoT' }] }
    ]
  }, euicc.privateKey)
  const result = signedArm(decodeEuiccPackageResult(der))
  t.match(result, {
    kind: 'signed',
    eimId: 'hub-eim.example',
    counterValue: 42,
    seqNumber: 7,
    results: [
      { op: 'enable', code: 0, reason: 'ok' },
      { op: 'disable', code: 2, reason: 'wrong-profile-state' },
      { op: 'setFallback', code: 0, reason: 'ok' },
      { op: 'listProfiles', code: 0, profiles: [{ iccid: '8995010000000000018', state: 'enabled', name: 'MPT IoT', spn: 'MPT' }] }
    ]
  })
  t.same(result.eimTransactionId, tx)
  t.equal(verifyPackageResultSignature(result, euicc.publicKey), true)
  t.equal(verifyPackageResultSignature(result, eim.publicKey), false, 'another key does not verify')
  const bad = signedArm(decodeEuiccPackageResult(tampered(der)))
  t.equal(verifyPackageResultSignature(bad, euicc.publicKey), false, 'a tampered signature is refused')
})

t.test('signed and unsigned errors round-trip', async (t) => {
  const signedError = signedArm(decodeEuiccPackageResult(encodeEuiccPackageResult({ kind: 'signed-error', eimId: 'hub-eim.example', counterValue: 3, errorCode: 4 }, (bytes) => {
    t.ok(bytes.length > 3, 'the signer gets the data followed by the associationToken')
    t.same([...bytes.subarray(-3)], [0x84, 0x01, 0x00])
    return euiccSign(bytes)
  })))
  t.match(signedError, { kind: 'signed-error', eimId: 'hub-eim.example', counterValue: 3, eimTransactionId: null, errorCode: 4 })
  t.equal(verifyPackageResultSignature(signedError, euicc.publicKey), true)

  t.same(decodeEuiccPackageResult(encodeEuiccPackageResult({ kind: 'unsigned-error', eimId: 'hub-eim.example', eimTransactionId: tx })),
    { kind: 'unsigned-error', eimId: 'hub-eim.example', eimTransactionId: tx })
  t.same(decodeEuiccPackageResult(encodeEuiccPackageResult({ kind: 'unsigned-error' })), { kind: 'unsigned-error', eimId: null, eimTransactionId: null })
  t.throws(() => encodeEuiccPackageResult({ kind: 'signed-error', eimId: 'e', counterValue: 1, errorCode: 4 }), TypeError, 'a signed arm needs a key')
})

function euiccSign (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', bytes, { key: euicc.privateKey, dsaEncoding: 'ieee-p1363' }))
}
