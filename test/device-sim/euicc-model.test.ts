import { mkdtempSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isValidEid } from '../../esim/eid.ts'
import { isValidIccid, luhnValid } from '../../esim/iccid.ts'
import { verifyNotification } from '../../esim/notification-verifier.ts'
import { carrierOfIccid, CARRIERS } from '../../device-sim/carriers.ts'
import { corruptSignature, EuiccModel, parseActivationCode } from '../../device-sim/euicc-model.ts'
import type { EuiccState } from '../../device-sim/fleet-file.ts'
import { newEid, newImei, newProfiles } from '../../device-sim/identity.ts'
import { Random } from '../../device-sim/random.ts'
import { createSimPki, issueEuicc, loadOrCreatePki, loadPki } from '../../device-sim/sim-pki.ts'
import type { SimPki } from '../../device-sim/sim-pki.ts'

const pki = createSimPki()
const trustAnchors = [pki.ci.certificateDer]

function newEuicc (pkiUsed: SimPki = pki, state: Partial<EuiccState> = {}, rng = new Random(7), extra: { queueLimit?: number, faults?: Record<string, number> } = {}) {
  const eid = newEid(rng, pkiUsed.eumPrefix)
  const issued = issueEuicc(pkiUsed, eid)
  const euicc = new EuiccModel({
    eid,
    privateKey: issued.privateKey,
    certificateDer: issued.certificateDer,
    eumCertificateDer: pkiUsed.eum.certificateDer,
    state: { profiles: newProfiles(rng, CARRIERS), nextSeqNumber: 1, eimCounter: 0, pendingNotifications: [], ...state },
    rng,
    ...extra
  })
  return { euicc, eid, issued }
}

t.test('identities have valid check digits and real operators', async (t) => {
  const rng = new Random(1)
  for (let i = 0; i < 200; i++) {
    const imei = newImei(rng)
    t.ok(/^\d{15}$/.test(imei) && luhnValid(imei), `IMEI ${imei}`)
    const eid = newEid(rng, '89049032')
    t.ok(isValidEid(eid) && eid.startsWith('89049032'), `EID ${eid}`)
    const profiles = newProfiles(rng, CARRIERS)
    t.ok(profiles.length >= 1 && profiles.length <= 3)
    t.equal(profiles.filter((p) => p.state === 'enabled').length, 1, 'one profile enabled')
    t.equal(new Set(profiles.map((p) => carrierOfIccid(p.iccid)?.key)).size, profiles.length, 'different operators')
    for (const p of profiles) t.ok(isValidIccid(p.iccid, { requireLuhn: true }) && p.iccid.startsWith('8995'), `ICCID ${p.iccid}`)
  }
})

t.test('notifications are signed so that the hub verifier accepts them', async (t) => {
  for (const curve of ['P-256', 'brainpoolP256r1'] as const) {
    const curvePki = curve === 'P-256' ? pki : createSimPki({ curve })
    const { euicc, eid } = newEuicc(curvePki)
    const enabled = euicc.enabledProfile!
    const n = euicc.notify('enable', enabled.iccid)
    const verified = verifyNotification(n.der, { trustAnchors: [curvePki.ci.certificateDer], expectedEid: eid })
    t.ok(verified.ok, `${curve}: ${verified.ok ? '' : verified.reason + ' ' + verified.detail}`)
    if (verified.ok) {
      t.equal(verified.eid, eid)
      t.match(verified.notification.metadata, { seqNumber: 1, operation: 'enable', iccid: enabled.iccid, notificationAddress: carrierOfIccid(enabled.iccid)!.smdpAddress })
    }
  }
  const { euicc } = newEuicc()
  const bad = corruptSignature(euicc.notify('disable', euicc.profiles[0]!.iccid).der)
  t.match(verifyNotification(bad, { trustAnchors }), { ok: false, reason: 'bad-signature' })
  const otherCi = createSimPki()
  t.match(verifyNotification(euicc.pending[0]!.der, { trustAnchors: [otherCi.ci.certificateDer] }), { ok: false, reason: 'untrusted-ci' })
})

t.test('profile operations follow the SGP.22 rules and emit notifications in sequence', async (t) => {
  const rng = new Random(3)
  const mpt = CARRIERS[0]!
  const ooredoo = CARRIERS[1]!
  const profiles = [
    { iccid: '8995010000000000018', state: 'enabled' as const, name: 'MPT IoT', spn: 'MPT', aid: 'A0000005591010FFFFFFFF8900001000' },
    { iccid: '8995050000000000011', state: 'disabled' as const, name: 'Ooredoo IoT', spn: 'Ooredoo', aid: 'A0000005591010FFFFFFFF8900001100' }
  ]
  t.ok(profiles.every((p) => isValidIccid(p.iccid)) && carrierOfIccid(profiles[0]!.iccid) === mpt && carrierOfIccid(profiles[1]!.iccid) === ooredoo)
  const { euicc, eid, issued } = newEuicc(pki, { profiles, nextSeqNumber: 10 }, rng)

  t.match(euicc.enable('8995010000000000018'), { ok: false, code: 'profile-not-in-disabled-state', reason: 2 })
  t.match(euicc.disable('8995050000000000011'), { ok: false, code: 'profile-not-in-enabled-state', reason: 2 })
  t.match(euicc.delete('8995010000000000018'), { ok: false, code: 'profile-not-in-disabled-state' })
  t.match(euicc.enable('8995990000000000000'), { ok: false, code: 'iccid-not-found', reason: 1 })

  const switched = euicc.enable('8995050000000000011')
  t.ok(switched.ok)
  if (switched.ok) t.same(switched.notifications.map((n) => [n.seqNumber, n.operation, n.iccid]), [[10, 'disable', '8995010000000000018'], [11, 'enable', '8995050000000000011']])
  t.equal(euicc.enabledProfile?.iccid, '8995050000000000011')
  const deleted = euicc.delete('8995010000000000018')
  t.ok(deleted.ok)
  t.same(euicc.profiles.map((p) => p.iccid), ['8995050000000000011'])
  t.same(euicc.pending.map((n) => n.seqNumber), [10, 11, 12])
  for (const n of euicc.pending) t.ok(verifyNotification(n.der, { trustAnchors, expectedEid: eid }).ok, `notification ${n.seqNumber} verifies`)

  t.ok(euicc.setFallback('8995050000000000011').ok)
  t.equal(euicc.profiles[0]!.fallback, true)
  t.ok(euicc.unsetFallback().ok)
  t.equal(euicc.profiles[0]!.fallback, undefined)

  // Download: a BF37 installation result, verifiable with the eUICC certificate the hub already knows.
  const code = parseActivationCode(`LPA:1$${mpt.smdpAddress}$MATCH-1234`)
  t.same(code, { smdpAddress: mpt.smdpAddress, matchingId: 'MATCH-1234' })
  const installed = euicc.install(code!)
  t.ok(installed.ok)
  if (installed.ok) {
    t.equal(carrierOfIccid(installed.profile.iccid), mpt, 'the profile comes from the SM-DP+ of the activation code')
    t.equal(installed.profile.state, 'disabled')
    const known = { euiccCertificate: issued.certificateDer, eumCertificate: pki.eum.certificateDer }
    const verified = verifyNotification(installed.notification.der, { trustAnchors, expectedEid: eid, knownEuiccCertificate: known })
    t.ok(verified.ok, verified.ok ? 'installation result verifies' : verified.detail)
    if (verified.ok && verified.notification.kind === 'installation-result') {
      t.equal(verified.notification.finalResult.kind, 'success')
      t.equal(verified.notification.metadata.iccid, installed.profile.iccid)
    }
  }
  const failed = euicc.install(code!, { bppCommandId: 5, errorReason: 12 })
  t.match(failed, { ok: false, code: 'install-failed', errorReason: 12 })
  t.equal(parseActivationCode('LPA:2$x.example$1'), null)
  t.equal(parseActivationCode('LPA:1$nohost$1'), null)
  t.equal(parseActivationCode('https://example.com'), null)

  // State goes to the fleet file and comes back.
  const state = euicc.state()
  t.equal(state.nextSeqNumber, 15)
  const again = new EuiccModel({ eid, privateKey: issued.privateKey, certificateDer: issued.certificateDer, eumCertificateDer: pki.eum.certificateDer, state })
  t.same(again.pending.map((n) => [n.seqNumber, n.operation]), euicc.pending.map((n) => [n.seqNumber, n.operation]))
  t.same(again.profiles, euicc.profiles)
  t.equal(again.notify('disable', again.profiles[0]!.iccid).seqNumber, 15, 'sequence numbers are never reused')
})

t.test('the notification list is bounded and drained by acknowledgements', async (t) => {
  const { euicc } = newEuicc(pki, {}, new Random(5), { queueLimit: 3 })
  const iccid = euicc.enabledProfile!.iccid
  for (let i = 0; i < 5; i++) euicc.notify('enable', iccid)
  t.same(euicc.pending.map((n) => n.seqNumber), [3, 4, 5], 'the oldest were dropped')
  t.equal(euicc.dropped, 2)
  t.equal(euicc.acknowledge(4)?.seqNumber, 4)
  t.equal(euicc.acknowledge(4), undefined, 'a second ack for the same number finds nothing')
  t.equal(euicc.acknowledge(1), undefined, 'nor does an ack for a dropped one')
  t.same(euicc.pending.map((n) => n.seqNumber), [3, 5])
})

t.test('the bad-signature fault corrupts signatures at the source', async (t) => {
  const { euicc, eid } = newEuicc(pki, {}, new Random(9), { faults: { 'bad-signature': 1 } })
  const n = euicc.notify('enable', euicc.enabledProfile!.iccid)
  t.match(verifyNotification(n.der, { trustAnchors, expectedEid: eid }), { ok: false, reason: 'bad-signature' })
})

t.test('the PKI file round-trips and refuses what it cannot use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-pki-'))
  const path = join(dir, 'pki.json')
  const first = await loadOrCreatePki(path, { curve: 'brainpoolP256r1' })
  t.equal(first.created, true)
  const second = await loadOrCreatePki(path)
  t.equal(second.created, false)
  t.same(second.pki.ci.certificateDer, first.pki.ci.certificateDer)
  t.equal(second.pki.curve, 'brainpoolP256r1')
  // A certificate issued by the reloaded EUM chains to the same CI.
  const eid = newEid(new Random(2), second.pki.eumPrefix)
  const issued = issueEuicc(second.pki, eid)
  const euicc = new EuiccModel({
    eid,
    privateKey: issued.privateKey,
    certificateDer: issued.certificateDer,
    eumCertificateDer: second.pki.eum.certificateDer,
    state: { profiles: newProfiles(new Random(2), CARRIERS), nextSeqNumber: 1, eimCounter: 0, pendingNotifications: [] }
  })
  t.ok(verifyNotification(euicc.notify('enable', euicc.profiles[0]!.iccid).der, { trustAnchors: [first.pki.ci.certificateDer], expectedEid: eid }).ok)
  t.throws(() => issueEuicc(second.pki, '89001012012341234012345678901224'), /outside the EUM's prefix/)

  await writeFile(join(dir, 'bad.json'), JSON.stringify({ kind: 'something-else' }))
  await t.rejects(loadPki(join(dir, 'bad.json')), { code: 'SIM_ERR_PKI_FILE', message: /is not a device-sim PKI file/ })
  const json = JSON.parse(await readFile(path, 'utf8'))
  json.eum.privateKey = json.ci.privateKey
  await writeFile(join(dir, 'mismatch.json'), JSON.stringify(json))
  await t.rejects(loadPki(join(dir, 'mismatch.json')), /the eum entry is unusable \(the private key does not match/)
})
