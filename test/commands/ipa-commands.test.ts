import { createPublicKey, verify } from 'node:crypto'
import t from 'tap'
import { decodeDer, DerCursor, tlvBytes } from '../../esim/der-reader.ts'
import { readOctets, readUnsigned, readUtf8 } from '../../esim/der-values.ts'
import { concat } from '../../esim/der-writer.ts'
import { decodeEid } from '../../esim/eid.ts'
import { createTestPki, generateTestKeyPair } from '../../esim/test-pki.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { EuiccModel } from '../../device-sim/euicc-model.ts'
import { command, ICCID_A, ICCID_B, ipaDevice, waitCommand } from './helpers.ts'

const pki = createTestPki()

t.test('SGP.32: signed packages, counters, verified results', async (t) => {
  const hub = await startTestHub(t, { commands: { sweepMs: 100 } })
  const token = await hub.login()
  const eim = (await hub.api(token, 'GET', '/api/eim')).body
  const device = await ipaDevice(hub, token, pki)
  t.teardown(() => device.disconnect())

  const disable = await command(hub, token, device.id, { op: 'disable', iccid: ICCID_A })
  const done = await waitCommand(hub, token, disable.id)
  t.equal(done.status, 'succeeded')
  t.match(done.euicc, { eid: device.eid, counterValue: 1, eimTransactionId: disable.id.replace(/-/g, '') })

  // The package as the device got it: BF51 { 30 signed {80 eimId, 5A EID, 81 counter, 82 tx, A0 {A4 {5A iccid}}}, 5F37 }.
  const der = Buffer.from(device.received[0].message.euiccPackageRequest as string, 'base64')
  const root = decodeDer(der)
  t.equal(root.tag, 0xbf51)
  const outer = new DerCursor(root, 'request')
  const signed = outer.next(0x30, 'signed')
  const signature = readOctets(outer.next(0x5f37, 'sig'))
  const c = new DerCursor(signed, 'signed')
  t.equal(readUtf8(c.next(0x80, 'eimId')), eim.eimId)
  t.equal(decodeEid(readOctets(c.next(0x5a, 'eid'))), device.eid)
  t.equal(readUnsigned(c.next(0x81, 'counter')), 1)
  t.equal(Buffer.from(readOctets(c.next(0x82, 'tx'))).toString('hex'), done.euicc?.eimTransactionId)
  t.equal(c.next(0xa0, 'list').children[0].tag, 0xa4)
  t.ok(verify('sha256', concat([tlvBytes(signed), Uint8Array.of(0x84, 0x01, 0x00)]), { key: createPublicKey(eim.publicKey), dsaEncoding: 'ieee-p1363' }, signature), 'signed with the exported eIM key over euiccPackageSigned ‖ 84 01 00')

  let profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.equal(profiles.find((p: any) => p.iccid === ICCID_A).state, 'disabled', 'a verified result updates the inventory at once')

  const enable = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'enable', iccid: ICCID_B })).id)
  t.equal(enable.status, 'succeeded')
  t.equal(enable.euicc?.counterValue, 2, 'the counter goes up by one per package')
  const list = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'listProfiles' })).id)
  t.equal(list.status, 'succeeded')
  t.equal(list.euicc?.counterValue, 3)
  profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.match(profiles, [{ iccid: ICCID_A, reportedState: 'disabled' }, { iccid: ICCID_B, state: 'enabled', reportedState: 'enabled' }], 'the signed profile list reconciles the inventory')

  const missing = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'delete', iccid: '8995050000000000995' })).id)
  t.equal(missing.status, 'failed')
  t.same(missing.error, { code: 'iccid-not-found', message: 'delete: iccid-not-found (1)' })

  // The eUICC has seen a higher counter (say, a replayed package of another run): it refuses, signed.
  device.euicc.eimCounter = 50
  const replay = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'disable', iccid: ICCID_B })).id)
  t.equal(replay.status, 'failed')
  t.equal(replay.error?.code, 'replay-error')
  t.equal(replay.euicc?.counterValue, 5)

  // Download is not a PSMO: the IPA gets the JSON command with the activation code.
  const download = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'download', activationCode: 'LPA:1$smdp.example.test$M1' })).id)
  t.equal(download.status, 'succeeded')
  t.equal(download.euicc, null)
})

t.test('SGP.32: a forged, replayed or mismatched result fails the command', async (t) => {
  const hub = await startTestHub(t, { commands: { sweepMs: 100 } })
  const token = await hub.login()
  const device = await ipaDevice(hub, token, pki, { behaviour: () => 'hold' })
  t.teardown(() => device.disconnect())

  // Forged: a result signed with a key that is not the eUICC's.
  const forged = await command(hub, token, device.id, { op: 'disable', iccid: ICCID_A })
  const received = await device.waitForCommand((c) => c.message.id === forged.id)
  const forger = new EuiccModel({ eid: device.eid, privateKey: generateTestKeyPair().privateKey, certificateDer: new Uint8Array(), eumCertificateDer: new Uint8Array(), state: device.euicc.state() })
  const forgedResult = await device.run(received.message, forger)
  await device.answer(forged.id, forgedResult)
  const failed = await waitCommand(hub, token, forged.id)
  t.equal(failed.status, 'failed')
  t.equal(failed.error?.code, 'bad-signature')
  let profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.notOk(profiles.some((p: any) => p.iccid === ICCID_A && p.state === 'disabled'), 'a forged result changes nothing')

  // Replayed: a genuine result of an earlier package (counter 2) offered as the answer to the next (counter 3).
  const first = await command(hub, token, device.id, { op: 'disable', iccid: ICCID_A })
  const r1 = await device.waitForCommand((c) => c.message.id === first.id)
  const genuine = await device.run(r1.message)
  const second = await command(hub, token, device.id, { op: 'enable', iccid: ICCID_A })
  await device.answer(first.id, genuine)
  t.equal((await waitCommand(hub, token, first.id)).status, 'succeeded')
  await device.waitForCommand((c) => c.message.id === second.id)
  await device.answer(second.id, genuine)
  const mismatched = await waitCommand(hub, token, second.id)
  t.equal(mismatched.status, 'failed')
  t.equal(mismatched.error?.code, 'package-mismatch')
  t.match(mismatched.error?.message, /counterValue 2 is not the package's 3/)

  // The eUICC itself refuses a replayed package: the same request twice (e.g. sent by someone else).
  const third = await command(hub, token, device.id, { op: 'enable', iccid: ICCID_A })
  const r3 = await device.waitForCommand((c) => c.message.id === third.id)
  t.equal((await device.run(r3.message)).status, 'ok')
  const again = await device.run(r3.message)
  t.equal(again.status, 'error', 'a replayed counter is refused by the eUICC')
  await device.answer(third.id, again)
  const refused = await waitCommand(hub, token, third.id)
  t.equal(refused.status, 'failed')
  t.equal(refused.error?.code, 'replay-error')

  // An unsigned refusal (bad eIM signature on the device side) fails the command with the reason.
  const fourth = await command(hub, token, device.id, { op: 'listProfiles' })
  const r4 = await device.waitForCommand((c) => c.message.id === fourth.id)
  const tampered = Buffer.from(r4.message.euiccPackageRequest as string, 'base64')
  tampered[tampered.length - 1] ^= 0xff
  await device.answer(fourth.id, await device.run({ ...r4.message, euiccPackageRequest: tampered.toString('base64') }))
  const unsigned = await waitCommand(hub, token, fourth.id)
  t.equal(unsigned.status, 'failed')
  t.equal(unsigned.error?.code, 'package-refused')
  t.match(unsigned.error?.message, /bad-eim-signature/)

  // Garbage and answers without a package result.
  const fifth = await command(hub, token, device.id, { op: 'listProfiles' })
  await device.waitForCommand((c) => c.message.id === fifth.id)
  await device.answer(fifth.id, { status: 'ok' })
  t.equal((await waitCommand(hub, token, fifth.id)).error?.code, 'missing-package-result')
  const sixth = await command(hub, token, device.id, { op: 'listProfiles' })
  await device.waitForCommand((c) => c.message.id === sixth.id)
  await device.answer(sixth.id, { status: 'ok', euiccPackageResult: Buffer.from('bf5103800100', 'hex').toString('base64') })
  t.equal((await waitCommand(hub, token, sixth.id)).error?.code, 'malformed-package-result')
  profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.equal(profiles.find((p: any) => p.iccid === ICCID_A).state, 'disabled', 'only the verified result changed the inventory')
})
