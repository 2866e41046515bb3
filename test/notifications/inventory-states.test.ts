import t from 'tap'
import mqtt from 'mqtt'
import { eidForPrefix } from '../../esim/eid.ts'
import { topics } from '../../protocol/topics.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'
import { command, ICCID_A, ICCID_B, lpaDevice, waitCommand } from '../commands/helpers.ts'

// The inventory states of the contract: `enabled` / `disabled`; a deleted profile leaves the list and
// stays in the history; the device's inventory report is its truth over earlier command effects.

const CONTRACT = ['enabled', 'disabled']

async function profiles (hub: TestHub, token: string, deviceId: string, includeDeleted = false): Promise<any[]> {
  return (await hub.api(token, 'GET', `/api/devices/${deviceId}/profiles${includeDeleted ? '?includeDeleted=true' : ''}`)).body.items
}

async function until<T> (what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  return await eventually(what, async () => { const value = await read(); return ok(value) && value })
}

t.test('a download leaves the profile disabled; a later inventory report wins over command effects', async (t) => {
  const hub = await startTestHub(t, { commands: { sweepMs: 100 } })
  const token = await hub.login()
  const device = await lpaDevice(hub, token)
  t.teardown(() => device.disconnect())

  const download = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'download', activationCode: 'LPA:1$smdp.example.test$MATCH-42' })).id)
  t.equal(download.status, 'succeeded')
  const downloaded = (download.result as { data: { iccid: string } }).data.iccid
  let items = await profiles(hub, token, device.id)
  t.match(items.find((p) => p.iccid === downloaded), { state: 'disabled', cause: `command: download ${download.id}` }, 'a downloaded profile is disabled, not "installed"')

  const enable = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'enable', iccid: ICCID_B })).id)
  t.equal(enable.status, 'succeeded')
  items = await profiles(hub, token, device.id)
  t.same(items.map((p) => [p.iccid, p.state]).sort(), [[ICCID_A, 'disabled'], [ICCID_B, 'enabled'], [downloaded, 'disabled']].sort(), 'the command effects (A disabled implicitly)')

  // The device then reports what it holds: B fell back to disabled, A is enabled, the download is gone.
  await device.publish(topics.inventory(device.id), JSON.stringify({ eid: device.eid, profiles: [{ iccid: ICCID_A, state: 'enabled' }, { iccid: ICCID_B, state: 'disabled' }] }))
  items = await until('the report is applied', () => profiles(hub, token, device.id), (list) => list.some((p) => p.iccid === ICCID_A && p.state === 'enabled'))
  t.same(items.map((p) => [p.iccid, p.state, p.cause, p.conflict]).sort(), [[ICCID_A, 'enabled', 'inventory', null], [ICCID_B, 'disabled', 'inventory', null]].sort(), 'the report is the truth over the earlier commands: no conflict left')
  t.ok(items.every((p) => CONTRACT.includes(p.state)), 'every listed state is one of the contract')
  const history = await profiles(hub, token, device.id, true)
  t.match(history.find((p) => p.iccid === downloaded), { state: 'deleted', reportedState: 'absent' }, 'the missing profile left the list and stays in the history')

  t.test('a report naming the EID of another device changes nothing', async (t) => {
    const other = await hub.createDevice(token) // no EID registered
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...other.credentials, reconnectPeriod: 0 })
    t.teardown(() => client.endAsync(true))
    await client.publishAsync(`devices/${other.device.id as string}/inventory`, JSON.stringify({ eid: device.eid, profiles: [{ iccid: ICCID_A, state: 'disabled' }] }), { qos: 1 })
    // A marker report on the other device's own (new) EID shows that its earlier one was processed.
    await client.publishAsync(`devices/${other.device.id as string}/inventory`, JSON.stringify({ eid: eidForPrefix('89049032', 990_001n), profiles: [{ iccid: '8995090000000000012', state: 'enabled' }] }), { qos: 1 })
    await until('the marker report is applied', () => profiles(hub, token, other.device.id as string), (list) => list.length > 0)
    const now = await profiles(hub, token, device.id)
    t.same(now.map((p) => [p.iccid, p.state, p.reportedState]).sort(), [[ICCID_A, 'enabled', 'enabled'], [ICCID_B, 'disabled', 'disabled']].sort(), 'the holder\'s inventory is unchanged')
  })
})
