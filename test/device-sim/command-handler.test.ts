import t from 'tap'
import { CARRIERS } from '../../device-sim/carriers.ts'
import { executeCommand, parseCommand } from '../../device-sim/command-handler.ts'
import type { CommandContext } from '../../device-sim/command-handler.ts'
import { EuiccModel } from '../../device-sim/euicc-model.ts'
import { MAX_PROFILES, newEid } from '../../device-sim/identity.ts'
import { Random } from '../../device-sim/random.ts'
import { createSimPki, issueEuicc } from '../../device-sim/sim-pki.ts'

const pki = createSimPki()
function context (faults: CommandContext['faults'] = {}) {
  const eid = newEid(new Random(4), pki.eumPrefix)
  const issued = issueEuicc(pki, eid)
  const euicc = new EuiccModel({
    eid,
    privateKey: issued.privateKey,
    certificateDer: issued.certificateDer,
    eumCertificateDer: pki.eum.certificateDer,
    state: {
      profiles: [
        { iccid: '8995010000000000018', state: 'enabled', name: 'MPT IoT', spn: 'MPT', aid: 'A0000005591010FFFFFFFF8900001000' },
        { iccid: '8995050000000000011', state: 'disabled', name: 'Ooredoo IoT', spn: 'Ooredoo', aid: 'A0000005591010FFFFFFFF8900001100' }
      ],
      nextSeqNumber: 1,
      eimCounter: 0,
      pendingNotifications: []
    }
  })
  const slept: number[] = []
  const ctx: CommandContext = { euicc, rng: new Random(8), faults, downloadMs: 3000, eim: null, sleep: async (ms) => { slept.push(ms) } }
  return { ctx, euicc, slept }
}
const json = (o: unknown) => Buffer.from(JSON.stringify(o))

t.test('parsing: the topic names the command; bad payloads are answered, not thrown', async (t) => {
  t.match(parseCommand(json({ id: 'other', op: 'listProfiles' }), 'cmd-1'), { ok: true, command: { id: 'cmd-1', op: 'listProfiles' } })
  t.match(parseCommand(Buffer.from('{nope'), 'c'), { ok: false, outcome: { result: { status: 'error', code: 'invalid-command' } } })
  t.match(parseCommand(json([1]), 'c'), { ok: false, outcome: { result: { code: 'invalid-command' } } })
  t.match(parseCommand(json({ op: 'enable', iccid: 8995 }), 'c'), { ok: false, outcome: { result: { message: '"iccid" must be a string' } } })
})

t.test('profile operations', async (t) => {
  const { ctx, euicc } = context()
  const list = await executeCommand({ id: '1', op: 'listProfiles' }, ctx)
  t.match(list.result, { status: 'ok', data: { eid: euicc.eid, profiles: [{ iccid: '8995010000000000018', state: 'enabled' }, { iccid: '8995050000000000011', state: 'disabled' }] } })
  const enable = await executeCommand({ id: '2', op: 'enable', iccid: '8995050000000000011', expiresAt: new Date(Date.now() + 60_000).toISOString() }, ctx)
  t.match(enable, { result: { status: 'ok' }, inventoryChanged: true })
  t.same(enable.notifications.map((n) => n.operation), ['disable', 'enable'])
  t.match((await executeCommand({ id: '3', op: 'delete', iccid: '8995050000000000011' }, ctx)).result, { status: 'error', code: 'profile-not-in-disabled-state' })
  t.match((await executeCommand({ id: '4', op: 'disable', iccid: '8995050000000000011' }, ctx)).result, { status: 'ok' })
  t.match((await executeCommand({ id: '5', op: 'delete', iccid: '8995050000000000011' }, ctx)), { result: { status: 'ok' }, notifications: [{ operation: 'delete' }] })
  t.match((await executeCommand({ id: '6', op: 'enable', iccid: '8995050000000000011' }, ctx)).result, { status: 'error', code: 'iccid-not-found' })
  t.match((await executeCommand({ id: '7', op: 'setFallback', iccid: '8995010000000000018' }, ctx)).result, { status: 'ok', data: { profiles: [{ fallback: true }] } })
  t.match((await executeCommand({ id: '8', op: 'unsetFallback' }, ctx)).result, { status: 'ok' })
  t.match((await executeCommand({ id: '9', op: 'enable' }, ctx)).result, { status: 'error', code: 'invalid-command' })
  t.match((await executeCommand({ id: '10', op: 'reboot' }, ctx)).result, { status: 'error', code: 'unsupported-op' })
  t.match((await executeCommand({ id: '11', op: 'listProfiles', expiresAt: Date.now() - 1 }, ctx)).result, { status: 'error', code: 'expired' })
})

t.test('download takes a while, installs a disabled profile and reports an installation result', async (t) => {
  const { ctx, euicc, slept } = context()
  const mytel = CARRIERS.find((c) => c.key === 'mytel')!
  const outcome = await executeCommand({ id: 'd1', op: 'download', activationCode: `LPA:1$${mytel.smdpAddress}$ABC-123` }, ctx)
  t.equal(outcome.result.status, 'ok')
  t.ok(slept[0]! >= 2100 && slept[0]! <= 3900, `slept ${slept[0]} ms (3 s ± 30 %)`)
  const iccid = (outcome.result.data as { iccid: string }).iccid
  t.ok(iccid.startsWith(mytel.iccidPrefix))
  t.match(outcome.notifications, [{ operation: 'install', iccid }])
  t.equal(euicc.profiles.find((p) => p.iccid === iccid)?.state, 'disabled')
  t.match((await executeCommand({ id: 'd2', op: 'download', activationCode: 'not-a-code' }, ctx)).result, { status: 'error', code: 'invalid-activation-code' })
  while (euicc.profiles.length < MAX_PROFILES) await executeCommand({ id: 'dn', op: 'download', activationCode: `LPA:1$${mytel.smdpAddress}$X` }, ctx)
  const full = await executeCommand({ id: 'd3', op: 'download', activationCode: `LPA:1$${mytel.smdpAddress}$X` }, ctx)
  t.match(full, { result: { status: 'error', code: 'insufficient-memory', data: { errorReason: 10 } }, notifications: [{ operation: 'install' }] })
})

t.test('the fail-ops fault refuses operations without changing anything', async (t) => {
  const { ctx, euicc } = context({ 'fail-ops': 1 })
  const before = euicc.profiles.map((p) => ({ ...p }))
  const outcome = await executeCommand({ id: 'f1', op: 'enable', iccid: '8995050000000000011' }, ctx)
  t.match(outcome.result, { status: 'error', code: /^(cat-busy|disallowed-by-policy)$/ })
  t.same(euicc.profiles, before)
  const download = await executeCommand({ id: 'f2', op: 'download', activationCode: 'LPA:1$smdp.example.com$1' }, ctx)
  t.match(download, { result: { status: 'error', code: 'install-failed' }, notifications: [{ operation: 'install' }] })
  t.match((await executeCommand({ id: 'f3', op: 'listProfiles' }, ctx)).result, { status: 'ok' }, 'reads still work')
})
