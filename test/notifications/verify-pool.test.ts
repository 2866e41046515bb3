import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { eidForPrefix } from '../../esim/eid.ts'
import { encodeInstallationResult, encodeOtherSignedNotification } from '../../esim/notification-encoder.ts'
import { verifyNotification } from '../../esim/notification-verifier.ts'
import { decodePendingNotification, NOTIFICATION_OPERATIONS } from '../../esim/pending-notification.ts'
import { createTestCi, createTestPki, generateTestKeyPair, issueEuiccCertificate, type TestCurve } from '../../esim/test-pki.ts'
import type { AnchorSet, CheckInput, Verdict } from '../../server/notifications/notification-check.ts'
import { VerifyPool } from '../../server/notifications/verify-pool.ts'

// The verify pool's verdicts are the verifier's (esim/notification-verifier.ts called on this thread, as
// the pipeline did before the pool): accepted, and every rejection reason, on the suite's generated PKI.

interface Case { name: string, der: Uint8Array, anchors: Uint8Array[], expectedEid?: string, known?: { euiccCertificate: Uint8Array, eumCertificate: Uint8Array } }

function cases (curve: TestCurve): Case[] {
  const pki = createTestPki({ curve })
  const other = createTestPki({ curve }) // another CI, EUM and eUICC
  const keys = { privateKey: pki.euicc.privateKey, publicKey: pki.euicc.publicKey }
  const anchors = [pki.ci.certificateDer]
  const eid = pki.eid
  const known = { euiccCertificate: pki.euicc.certificateDer, eumCertificate: pki.eum.certificateDer }
  const otherEid = eidForPrefix(pki.eumPrefix, 99)
  const otherDeviceCert = issueEuiccCertificate(pki.eum, { eid: otherEid, keys }).certificateDer
  const signed = (o: { seq?: number, key?: typeof keys.privateKey, cert?: Uint8Array, eum?: Uint8Array, operation?: typeof NOTIFICATION_OPERATIONS[number] } = {}): Uint8Array =>
    encodeOtherSignedNotification({
      seqNumber: o.seq ?? 1,
      operation: o.operation ?? 'disable',
      notificationAddress: 'smdp.example.com',
      iccid: '8949449999999990031',
      privateKey: o.key ?? pki.euicc.privateKey,
      euiccCertificateDer: o.cert ?? pki.euicc.certificateDer,
      eumCertificateDer: o.eum ?? pki.eum.certificateDer
    })
  const result = (success: boolean, key = pki.euicc.privateKey): Uint8Array => encodeInstallationResult({
    seqNumber: 3,
    operation: 'install',
    notificationAddress: 'smdp.example.com',
    iccid: '8949449999999990031',
    transactionId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    privateKey: key,
    finalResult: success
      ? { kind: 'success', aid: Uint8Array.of(0xa0, 0, 0, 5, 0x59, 0x10, 0x10, 1), simaResponse: Uint8Array.of(0x30, 0) }
      : { kind: 'error', bppCommandId: 2, errorReason: 9 }
  })
  const changed = signed()
  changed[Buffer.from(changed).indexOf('smdp.example') + 4] = 0x2d
  const tamperedResult = result(false)
  tamperedResult[tamperedResult.length - 68] ^= 1
  return [
    ...NOTIFICATION_OPERATIONS.map((operation, i) => ({ name: `accepted: ${operation}`, der: signed({ operation, seq: 10 + i }), anchors, expectedEid: eid })),
    { name: 'accepted without an expected EID', der: signed({ seq: 30 }), anchors },
    { name: 'accepted among several CIs', der: signed({ seq: 31 }), anchors: [createTestCi(curve).certificateDer, ...anchors], expectedEid: eid },
    { name: 'accepted: installation result, success', der: result(true), anchors, expectedEid: eid, known },
    { name: 'accepted: installation result, error', der: result(false), anchors, expectedEid: eid, known },
    { name: 'bad-signature: another key', der: signed({ key: generateTestKeyPair(curve).privateKey }), anchors, expectedEid: eid },
    { name: 'bad-signature: changed after signing', der: changed, anchors, expectedEid: eid },
    { name: 'bad-signature: installation result changed', der: tamperedResult, anchors, expectedEid: eid, known },
    { name: 'untrusted-ci', der: signed(), anchors: [other.ci.certificateDer] },
    { name: 'chain: eUICC certificate not issued by the EUM sent with it', der: signed({ eum: other.eum.certificateDer }), anchors: [other.ci.certificateDer] },
    {
      name: 'expired',
      der: signed({ cert: issueEuiccCertificate(pki.eum, { eid, keys, notBefore: new Date('2010-01-01T00:00:00Z'), notAfter: new Date('2015-01-01T00:00:00Z') }).certificateDer }),
      anchors,
      expectedEid: eid
    },
    { name: 'eid-not-permitted', der: signed({ cert: issueEuiccCertificate(pki.eum, { eid: eidForPrefix('89049033', 5), keys }).certificateDer }), anchors },
    { name: 'eid-mismatch: EID of another device', der: signed({ cert: otherDeviceCert }), anchors, expectedEid: eid },
    { name: 'eid-mismatch: held certificate of another device', der: result(true), anchors, expectedEid: eid, known: { euiccCertificate: otherDeviceCert, eumCertificate: pki.eum.certificateDer } },
    { name: 'unknown-euicc', der: result(true), anchors, expectedEid: eid },
    { name: 'malformed: truncated', der: signed().subarray(0, 100), anchors, expectedEid: eid },
    { name: 'malformed: indefinite length', der: Uint8Array.of(0x30, 0x80, 0, 0), anchors, expectedEid: eid },
    { name: 'no-trust-anchor', der: signed(), anchors: [] }
  ]
}

/** The pool's request for these cases: one anchor set per distinct list. */
function request (list: Case[]): { sets: AnchorSet[], inputs: CheckInput[] } {
  const sets: AnchorSet[] = []
  const inputs = list.map((c) => {
    const key = c.anchors.map((a) => createHash('sha256').update(a).digest('hex')).join(',')
    let at = sets.findIndex((s) => s.key === key)
    if (at < 0) at = sets.push({ key, certificates: c.anchors }) - 1
    return { der: c.der, anchors: at, ...(c.expectedEid === undefined ? {} : { expectedEid: c.expectedEid }), ...(c.known === undefined ? {} : { known: c.known }) }
  })
  return { sets, inputs }
}

function expectSame (t: Test, c: Case, verdict: Verdict): void {
  const before = verifyNotification(c.der, { trustAnchors: c.anchors, expectedEid: c.expectedEid, knownEuiccCertificate: c.known })
  if (before.ok && verdict.ok) {
    t.equal(verdict.eid, before.eid, `${c.name}: same EID`)
    t.equal(verdict.fields.seqNumber, before.notification.metadata.seqNumber, `${c.name}: same seqNumber`)
    t.equal(verdict.fields.operation, before.notification.metadata.operation, `${c.name}: same operation`)
    if (before.notification.kind === 'other-signed') {
      const at = verdict.certificates as number[]
      t.same(c.der.subarray(at[0], at[1]), before.euiccCertificateDer, `${c.name}: the eUICC certificate to hold`)
      t.same(c.der.subarray(at[2], at[3]), before.eumCertificateDer, `${c.name}: the EUM certificate to hold`)
    }
  } else {
    t.same(verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason, detail: verdict.detail }, before.ok ? { ok: true } : { ok: false, reason: before.reason, detail: before.detail }, `${c.name}: same verdict`)
  }
}

const REASONS = ['bad-signature', 'untrusted-ci', 'chain', 'expired', 'eid-not-permitted', 'eid-mismatch', 'unknown-euicc', 'malformed', 'no-trust-anchor']

for (const curve of ['P-256', 'brainpoolP256r1'] as TestCurve[]) {
  t.test(`the pool gives the verifier's verdicts (${curve})`, async (t) => {
    const list = cases(curve)
    const pool = new VerifyPool({ size: 2 })
    t.teardown(() => pool.close())
    const { sets, inputs } = request(list)
    // Twice over, split across both workers: the second pass verifies through the workers' chain caches.
    for (const pass of [1, 2]) {
      const verdicts = await pool.check(sets, [...inputs, ...inputs])
      t.equal(verdicts.length, list.length * 2, `pass ${pass}: one verdict per notification`)
      for (const [i, c] of [...list, ...list].entries()) expectSame(t, c, verdicts[i])
    }
    const reasons = new Set(list.map((c) => verifyNotification(c.der, { trustAnchors: c.anchors, expectedEid: c.expectedEid, knownEuiccCertificate: c.known })).flatMap((r) => r.ok ? [] : [r.reason]))
    t.same([...reasons].sort(), [...REASONS].sort(), 'the cases cover every rejection reason')

    const inspections = await pool.inspect(list.map((c) => c.der))
    for (const [i, c] of list.entries()) {
      t.equal(inspections[i].sha256, createHash('sha256').update(c.der).digest('hex'), `${c.name}: SHA-256 of the bytes`)
    }
    t.equal(inspections[0].claimedEid, list[0].expectedEid, 'an other-signed notification claims its certificate\'s EID')
    t.equal(inspections.at(-2)?.claimedEid, null, 'a malformed one claims none')
    // Only installation results need the certificate the hub holds (the pipeline reads and sends no other).
    for (const [i, c] of list.entries()) {
      const decoded = (() => { try { return decodePendingNotification(c.der).kind } catch { return null } })()
      t.equal(inspections[i].needsHeldCertificate, decoded === 'installation-result', `${c.name}: needs the held certificate only if an installation result`)
    }
    t.ok(inspections.some((x) => x.needsHeldCertificate) && inspections.some((x) => !x.needsHeldCertificate), 'the cases hold both kinds')
    t.equal(pool.restarts, 0)
  })
}

t.test('a worker that dies is replaced and its part of the batch verified again, once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'verify-pool-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const list = cases('P-256')
  const pool = new VerifyPool({ size: 2, entry: new URL('./fixtures/dying-verify-worker.js', import.meta.url), workerData: { marker: join(dir, 'died') } })
  t.teardown(() => pool.close())
  const { sets, inputs } = request(list)
  const verdicts = await pool.check(sets, [...inputs, ...inputs])
  t.equal(pool.restarts, 1, 'one worker died and was replaced')
  t.equal(verdicts.length, list.length * 2, 'one verdict per notification')
  for (const [i, c] of [...list, ...list].entries()) expectSame(t, c, verdicts[i])
})

t.test('a request that kills every worker fails after three attempts', async (t) => {
  const pool = new VerifyPool({ size: 1, entry: new URL('./fixtures/dying-verify-worker.js', import.meta.url), workerData: { always: true } })
  t.teardown(() => pool.close())
  await t.rejects(pool.inspect([Uint8Array.of(0x30, 0)]), /verification failed 3 times: a verify worker exited with code 3/)
  t.equal(pool.restarts, 3)
  await pool.close()
  await t.rejects(pool.inspect([Uint8Array.of(0x30, 0)]), /closed/, 'a closed pool verifies nothing')
})
