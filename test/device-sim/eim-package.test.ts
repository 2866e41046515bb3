import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import t from 'tap'
import type { Test } from 'tap'
import { decodeDer, tlvBytes } from '../../esim/der-reader.ts'
import { concat, integer, octetString, sequence, tlv, utf8String } from '../../esim/der-writer.ts'
import { encodeEid } from '../../esim/eid.ts'
import { encodeIccid } from '../../esim/iccid.ts'
import { executeCommand } from '../../device-sim/command-handler.ts'
import { decodeEuiccPackageRequest, NO_ASSOCIATION_TOKEN } from '../../esim/euicc-package.ts'
import { processEuiccPackage } from '../../device-sim/eim-package.ts'
import { EuiccModel } from '../../device-sim/euicc-model.ts'
import { newEid } from '../../device-sim/identity.ts'
import { Random } from '../../device-sim/random.ts'
import { createSimPki, issueEuicc } from '../../device-sim/sim-pki.ts'

// The eIM side, written here from ESIM.md for the test (the hub's own encoder is not there yet).
const eimKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const EIM_ID = 'hub-eim.example'
type TestPsmo = ['enable' | 'disable' | 'delete' | 'setFallback', string] | ['list'] | ['getRAT']

function packageRequest (o: { eid: string, counter: number, psmos: TestPsmo[], eimId?: string, tx?: Uint8Array, key?: KeyObject }): Uint8Array {
  const tags = { enable: 0xa3, disable: 0xa4, delete: 0xa5, setFallback: 0xa8 }
  const psmos = o.psmos.map((p) => p[0] === 'list' ? tlv(0xbf2d) : p[0] === 'getRAT' ? tlv(0xa6) : tlv(tags[p[0]], octetString(encodeIccid(p[1]), 0x5a)))
  const signed = sequence(
    utf8String(o.eimId ?? EIM_ID, 0x80),
    octetString(encodeEid(o.eid), 0x5a),
    integer(o.counter, 0x81),
    ...(o.tx === undefined ? [] : [octetString(o.tx, 0x82)]),
    tlv(0xa0, ...psmos))
  const signature = sign('sha256', concat([signed, NO_ASSOCIATION_TOKEN]), { key: o.key ?? eimKeys.privateKey, dsaEncoding: 'ieee-p1363' })
  return tlv(0xbf51, signed, octetString(new Uint8Array(signature), 0x5f37))
}

const pki = createSimPki()
const trust = { eimId: EIM_ID, publicKey: eimKeys.publicKey }
const profiles = () => [
  { iccid: '8995010000000000018', state: 'enabled' as const, name: 'MPT IoT', spn: 'MPT', aid: 'A0000005591010FFFFFFFF8900001000' },
  { iccid: '8995050000000000011', state: 'disabled' as const, name: 'Ooredoo IoT', spn: 'Ooredoo', aid: 'A0000005591010FFFFFFFF8900001100' }
]
function newEuicc () {
  const eid = newEid(new Random(11), pki.eumPrefix)
  const issued = issueEuicc(pki, eid)
  const euicc = new EuiccModel({ eid, privateKey: issued.privateKey, certificateDer: issued.certificateDer, eumCertificateDer: pki.eum.certificateDer, state: { profiles: profiles(), nextSeqNumber: 5, eimCounter: 0, pendingNotifications: [] } })
  return { euicc, eid, euiccKey: createPublicKey(issued.privateKey) }
}

/** Checks the eUICC signature of a signed result (A0) or signed error (A1) and returns its data node. */
function signedPart (t: Test, result: Uint8Array, euiccKey: KeyObject) {
  const root = decodeDer(result)
  t.equal(root.tag, 0xbf51)
  const arm = root.children[0]!
  const data = arm.children[0]!
  const sig = arm.children[1]!
  t.equal(sig.tag, 0x5f37)
  const ok = verify('sha256', concat([tlvBytes(data), NO_ASSOCIATION_TOKEN]), { key: euiccKey, dsaEncoding: 'ieee-p1363' }, sig.source.subarray(sig.valueStart, sig.end))
  return { arm: arm.tag, data, ok }
}

t.test('a valid package runs its PSMOs and returns a result signed by the eUICC', async (t) => {
  const { euicc, eid, euiccKey } = newEuicc()
  const tx = Uint8Array.of(1, 2, 3, 4)
  const der = packageRequest({ eid, counter: 1, tx, psmos: [['enable', '8995050000000000011'], ['list']] })
  t.match(decodeEuiccPackageRequest(der), { eimId: EIM_ID, eid, counterValue: 1, psmos: [{ op: 'enable', iccid: '8995050000000000011' }, { op: 'listProfileInfo' }] })
  const outcome = processEuiccPackage(euicc, der, trust)
  t.match(outcome, { kind: 'signed', ok: true, inventoryChanged: true })
  t.equal(outcome.notifications.length, 2, 'disable + enable notifications')
  t.equal(euicc.enabledProfile?.iccid, '8995050000000000011')
  t.equal(euicc.eimCounter, 1)
  const part = signedPart(t, outcome.result, euiccKey)
  t.equal(part.arm, 0xa0)
  t.ok(part.ok, 'euiccSignEPR verifies over the result data followed by 84 01 00')
  t.same(part.data.children.map((c) => c.tag), [0x80, 0x81, 0x82, 0x83, 0x30])
  const results = part.data.children[4]!.children
  t.same(results.map((c) => c.tag), [0x83, 0xbf2d])
  t.same([...results[0]!.source.subarray(results[0]!.valueStart, results[0]!.end)], [0], 'enableResult ok')
  t.equal(results[1]!.children[0]!.children.length, 2, 'two ProfileInfo in the list')

  // A failing PSMO is reported in the signed result.
  const again = processEuiccPackage(euicc, packageRequest({ eid, counter: 2, psmos: [['disable', '8995010000000000018']] }), trust)
  t.match(again, { kind: 'signed', ok: false, code: 'psmo-failed' })
})

t.test('replays, wrong EIDs, foreign eIMs and bad signatures are refused', async (t) => {
  const { euicc, eid, euiccKey } = newEuicc()
  t.equal(processEuiccPackage(euicc, packageRequest({ eid, counter: 5, psmos: [['list']] }), trust).ok, true)
  const replay = processEuiccPackage(euicc, packageRequest({ eid, counter: 5, psmos: [['list']] }), trust)
  t.match(replay, { kind: 'error-signed', code: 'replay' })
  const replayPart = signedPart(t, replay.result, euiccKey)
  t.equal(replayPart.arm, 0xa1)
  t.ok(replayPart.ok)
  t.same([...replayPart.data.children.at(-1)!.source.subarray(replayPart.data.children.at(-1)!.valueStart, replayPart.data.children.at(-1)!.end)], [4], 'replayError 4')
  t.match(processEuiccPackage(euicc, packageRequest({ eid, counter: 0x800000, psmos: [['list']] }), trust), { kind: 'error-signed', code: 'counter-out-of-range' })
  t.match(processEuiccPackage(euicc, packageRequest({ eid: newEid(new Random(99), pki.eumPrefix), counter: 6, psmos: [['list']] }), trust), { kind: 'error-signed', code: 'invalid-eid' })
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const forged = processEuiccPackage(euicc, packageRequest({ eid, counter: 7, psmos: [['delete', '8995050000000000011']], key: other.privateKey }), trust)
  t.match(forged, { kind: 'error-unsigned', code: 'bad-eim-signature' })
  t.equal(decodeDer(forged.result).children[0]!.tag, 0xa2)
  t.equal(euicc.profiles.length, 2, 'nothing was deleted')
  t.match(processEuiccPackage(euicc, packageRequest({ eid, counter: 8, psmos: [['list']], eimId: 'someone-else' }), trust), { kind: 'error-unsigned', code: 'unknown-eim' })
  t.match(processEuiccPackage(euicc, packageRequest({ eid, counter: 8, psmos: [['list']] }), null), { kind: 'error-unsigned', code: 'unknown-eim' })
  t.match(processEuiccPackage(euicc, Uint8Array.of(0xbf, 0x51, 0x00), trust), { kind: 'error-unsigned', code: 'malformed-package' })
  t.match(processEuiccPackage(euicc, packageRequest({ eid, counter: 9, psmos: [['getRAT']] }), trust), { kind: 'error-signed', code: 'unsupported-psmo' })
  t.equal(euicc.eimCounter, 9)
})

t.test('a command carrying a package answers with the package result', async (t) => {
  const { euicc, eid } = newEuicc()
  const der = packageRequest({ eid, counter: 1, psmos: [['setFallback', '8995050000000000011']] })
  const outcome = await executeCommand({ id: 'c1', op: 'setFallback', iccid: '8995050000000000011', euiccPackageRequest: Buffer.from(der).toString('base64') },
    { euicc, rng: new Random(1), faults: {}, downloadMs: 0, eim: trust })
  t.equal(outcome.result.status, 'ok')
  t.equal(decodeDer(new Uint8Array(Buffer.from(outcome.result.euiccPackageResult!, 'base64'))).tag, 0xbf51)
  t.equal(euicc.profiles[1]!.fallback, true)
  const refused = await executeCommand({ id: 'c2', op: 'enable', euiccPackageRequest: Buffer.from(der).toString('base64') },
    { euicc, rng: new Random(1), faults: {}, downloadMs: 0, eim: trust })
  t.match(refused.result, { status: 'error', code: 'replay' })
  t.ok(refused.result.euiccPackageResult)
})
