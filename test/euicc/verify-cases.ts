// Verification cases shared by the SGP.26 test (files from ../shared) and the generated-PKI test.
import type { KeyObject } from 'node:crypto'
import type { Test } from 'tap'
import { NOTIFICATION_OPERATIONS } from '../../esim/pending-notification.ts'
import { encodeInstallationResult, encodeOtherSignedNotification } from '../../esim/notification-encoder.ts'
import { verifyNotification } from '../../esim/notification-verifier.ts'
import type { VerifyContext } from '../../esim/notification-verifier.ts'
import type { TrustAnchor } from '../../esim/certificate-chain.ts'

export interface Material {
  trustAnchors: TrustAnchor[]
  /** A CI that did not issue the EUM. */
  otherCi: TrustAnchor
  euiccKey: KeyObject
  /** Any other key: signing with it must give 'bad-signature'. */
  wrongKey: KeyObject
  euiccCert: Uint8Array
  eumCert: Uint8Array
  eid: string
  /** eUICC certificates for the same key under the same EUM. */
  expiredEuiccCert: Uint8Array
  outsideRangeCert: Uint8Array
  otherDevice: { cert: Uint8Array, eid: string }
}

const address = 'smdp.example.com'
const iccid = '8949449999999990031'

export function notification (m: Material, o: { key?: KeyObject, cert?: Uint8Array, seq?: number } = {}): Uint8Array {
  return encodeOtherSignedNotification({
    seqNumber: o.seq ?? 1,
    operation: 'disable',
    notificationAddress: address,
    iccid,
    privateKey: o.key ?? m.euiccKey,
    euiccCertificateDer: o.cert ?? m.euiccCert,
    eumCertificateDer: m.eumCert
  })
}

export function installResult (m: Material, success: boolean, key = m.euiccKey): Uint8Array {
  return encodeInstallationResult({
    seqNumber: 3,
    operation: 'install',
    notificationAddress: address,
    iccid,
    transactionId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    privateKey: key,
    finalResult: success
      ? { kind: 'success', aid: Uint8Array.of(0xa0, 0, 0, 5, 0x59, 0x10, 0x10, 1), simaResponse: Uint8Array.of(0x30, 0) }
      : { kind: 'error', bppCommandId: 2, errorReason: 9 }
  })
}

function expectReason (t: Test, input: Uint8Array, ctx: VerifyContext, reason: string, what: string): void {
  const r = verifyNotification(input, ctx)
  t.equal(r.ok ? 'ok' : r.reason, reason, what)
  if (!r.ok) t.ok(r.detail.length > 10, `${what}: detail "${r.detail}"`)
}

export function coreCases (t: Test, m: Material): void {
  const ctx: VerifyContext = { trustAnchors: m.trustAnchors, expectedEid: m.eid }
  const known = { euiccCertificate: m.euiccCert, eumCertificate: m.eumCert }

  t.test('every operation verifies', async t => {
    for (const operation of NOTIFICATION_OPERATIONS) {
      const input = encodeOtherSignedNotification({
        seqNumber: 42, operation, notificationAddress: address, iccid, privateKey: m.euiccKey, euiccCertificateDer: m.euiccCert, eumCertificateDer: m.eumCert
      })
      const r = verifyNotification(input, ctx)
      t.ok(r.ok, `${operation}: ${r.ok ? 'ok' : r.reason + ' ' + r.detail}`)
      if (r.ok) {
        t.equal(r.eid, m.eid)
        t.equal(r.notification.metadata.operation, operation)
        t.same(r.euiccCertificateDer, m.euiccCert)
        t.same(r.eumCertificateDer, m.eumCert)
      }
    }
    t.ok(verifyNotification(notification(m), { trustAnchors: m.trustAnchors }).ok, 'without an expected EID')
    t.ok(verifyNotification(notification(m), { trustAnchors: [m.otherCi, ...m.trustAnchors] }).ok, 'among several CIs')
  })

  t.test('installation results verify with the known certificate', async t => {
    for (const success of [true, false]) {
      const input = installResult(m, success)
      const r = verifyNotification(input, { ...ctx, knownEuiccCertificate: known })
      t.ok(r.ok, `${success ? 'success' : 'error'} result with the full chain`)
      if (r.ok && r.notification.kind === 'installation-result') t.equal(r.notification.finalResult.kind, success ? 'success' : 'error')
      t.ok(verifyNotification(input, { ...ctx, knownEuiccCertificate: m.euiccCert }).ok, 'with a pinned eUICC certificate')
      t.ok(verifyNotification(input, { ...ctx, knownEuiccCertificate: eid => eid === m.eid ? known : undefined }).ok, 'by lookup')
    }
  })

  t.test('rejections', async t => {
    expectReason(t, notification(m, { key: m.wrongKey }), ctx, 'bad-signature', 'signed with another key')
    const changed = notification(m)
    changed[Buffer.from(changed).indexOf('smdp.example') + 4] = 0x2d // smdp.example.com → smdp-example.com, after signing
    expectReason(t, changed, ctx, 'bad-signature', 'data changed after signing')
    const seqChanged = notification(m, { seq: 1 })
    seqChanged[Buffer.from(seqChanged).indexOf(Buffer.from('bf2f', 'hex')) + 5] = 2 // BF2F LL 80 01 <seq>
    expectReason(t, seqChanged, ctx, 'bad-signature', 'seqNumber changed after signing')
    const result = installResult(m, false)
    result[result.length - 68] ^= 1 // errorReason 9 → 8, inside BF27 (… 81 01 09 5F37 40 <64 bytes>)
    expectReason(t, result, { ...ctx, knownEuiccCertificate: known }, 'bad-signature', 'installation result changed after signing')
    expectReason(t, installResult(m, true, m.wrongKey), { ...ctx, knownEuiccCertificate: known }, 'bad-signature', 'installation result from another key')
    expectReason(t, notification(m), { trustAnchors: [m.otherCi] }, 'untrusted-ci', 'unknown CI')
    expectReason(t, notification(m, { cert: m.expiredEuiccCert }), ctx, 'expired', 'expired eUICC certificate')
    expectReason(t, notification(m), { ...ctx, now: new Date(Date.UTC(9000, 0, 1)) }, 'expired', 'a clock past the validity')
    expectReason(t, notification(m), { ...ctx, now: new Date(Date.UTC(2000, 0, 1)) }, 'expired', 'a clock before the validity')
    expectReason(t, notification(m, { cert: m.outsideRangeCert }), { trustAnchors: m.trustAnchors }, 'eid-not-permitted', 'EID outside the EUM range')
    expectReason(t, notification(m, { cert: m.otherDevice.cert }), ctx, 'eid-mismatch', 'EID of another device')
    expectReason(t, installResult(m, true), ctx, 'unknown-euicc', 'installation result without a known certificate')
    expectReason(t, installResult(m, true), { ...ctx, knownEuiccCertificate: () => undefined }, 'unknown-euicc', 'lookup finds nothing')
    expectReason(t, installResult(m, true), { ...ctx, knownEuiccCertificate: () => { throw new Error('db down') } }, 'unknown-euicc', 'lookup fails')
    expectReason(t, installResult(m, true), { ...ctx, knownEuiccCertificate: m.otherDevice.cert }, 'eid-mismatch', 'known certificate of another device')
    expectReason(t, notification(m).subarray(0, 100), ctx, 'malformed', 'truncated DER')
    expectReason(t, Uint8Array.of(0x30, 0x80, 0, 0), ctx, 'malformed', 'indefinite length')
    const r = verifyNotification(notification(m), { trustAnchors: [] })
    t.match(r, { ok: false, reason: 'no-trust-anchor', detail: /no CI certificate is configured/ }, 'no trust anchor')
    t.ok(!r.ok && r.notification !== undefined, 'the decoded notification comes with the rejection')
  })
}
