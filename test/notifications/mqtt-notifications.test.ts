import t from 'tap'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import { createTestPki } from '../../esim/test-pki.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { euiccOf, notificationMessage, sendNotification, trustDir } from '../helpers/euicc-fixtures.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

const send = sendNotification

for (const curve of ['P-256', 'brainpoolP256r1'] as const) {
  t.test(`notifications over MQTT, ${curve}: verified, acknowledged after the commit, applied in seqNumber order`, async (t) => {
    const pki = createTestPki({ curve })
    const foreign = createTestPki({ curve, eumPrefix: '89049032' }) // same EID range, another CI
    const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [pki.ci.certificateDer]) } })
    const token = await hub.login()
    const { device, credentials } = await hub.createDevice(token, { eid: pki.eid })
    const other = await hub.createDevice(token)
    const euicc = euiccOf(pki)
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
    t.teardown(() => client.endAsync(true))
    await client.subscribeAsync(`devices/${device.id}/notifications/ack`, { qos: 1 })
    const ticket = (await hub.api(token, 'POST', '/api/events/ticket')).body.ticket
    const sse = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
    t.teardown(() => sse.close())

    const mpt = iccidForPrefix('899501', 1)
    const ooredoo = iccidForPrefix('899505', 2)
    const profiles = async () => (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items as Array<{ iccid: string, state: string, operator: { name: string } | null, conflict: string | null }>

    t.same(await send(client, device.id, notificationMessage(euicc.notification(1, 'install', mpt))), { seqNumber: 1, status: 'accepted' })
    // The ack is sent after the commit: the row is there now.
    const [stored] = await hub.database.rows<{ status: string }>(sql`select status from notifications where seq_number = 1`)
    t.equal(stored.status, 'accepted')
    t.same(await send(client, device.id, notificationMessage(euicc.notification(2, 'enable', mpt))), { seqNumber: 2, status: 'accepted' })
    t.same((await profiles()).map((p) => [p.iccid, p.state, p.operator?.name]), [[mpt, 'enabled', 'MPT']])
    const byOperator = async (operator: string) => (await hub.api(token, 'GET', `/api/devices?operator=${operator}`)).body.items.map((d: { id: string }) => d.id)
    t.same(await byOperator('mm-mpt'), [device.id], 'the device list filters by the operators of the profiles on each eUICC')
    t.same(await byOperator('mm-mytel'), [])
    const changed = await sse.next((e) => e.event === 'profile.changed' && e.data.state === 'enabled')
    t.equal(changed.data.iccid, mpt)
    t.ok(await sse.next((e) => e.event === 'notification' && e.data.seqNumber === 2 && e.data.status === 'accepted'))

    t.test('duplicates: byte-identical, and the same (EID, seqNumber)', async (t) => {
      const again = euicc.notification(2, 'enable', mpt)
      t.same(await send(client, device.id, notificationMessage(again)), { seqNumber: 2, status: 'duplicate' }, 're-signed: same EID and seqNumber')
      const first = euicc.notification(3, 'install', ooredoo)
      t.same(await send(client, device.id, notificationMessage(first)), { seqNumber: 3, status: 'accepted' })
      t.same(await send(client, device.id, notificationMessage(first)), { seqNumber: 3, status: 'duplicate' }, 'byte-identical')
      const [{ n }] = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from notifications where seq_number = 3`)
      t.equal(n, 1, 'stored once')
    })

    t.test('a late, older notification cannot undo a newer change', async (t) => {
      t.same(await send(client, device.id, notificationMessage(euicc.notification(10, 'enable', ooredoo))), { seqNumber: 10, status: 'accepted' })
      t.same(await send(client, device.id, notificationMessage(euicc.notification(9, 'disable', ooredoo))), { seqNumber: 9, status: 'accepted' }, 'accepted and recorded')
      const now = await profiles()
      t.same(now.map((p) => [p.iccid, p.state]).sort(), [[mpt, 'disabled'], [ooredoo, 'enabled']].sort(), 'enable of seq 10 stands; enabling it disabled the MPT profile')
    })

    t.test('installation results: success installs, an error records the reason', async (t) => {
      const third = iccidForPrefix('899509', 3)
      t.same(await send(client, device.id, notificationMessage(euicc.installationResult(11, third))), { seqNumber: 11, status: 'accepted' })
      t.same(await send(client, device.id, notificationMessage(euicc.installationResult(12, iccidForPrefix('899506', 4), 10))), { seqNumber: 12, status: 'accepted' })
      const items = await profiles()
      t.equal(items.find((p) => p.iccid === third)?.state, 'disabled', 'an installed profile is disabled until enabled')
      t.notOk(items.some((p) => p.iccid.startsWith('899506')), 'a failed installation installs nothing')
      const listed = await hub.api(token, 'GET', `/api/devices/${device.id}/notifications?operation=install`)
      const failed = listed.body.items.find((n: { seqNumber: number }) => n.seqNumber === 12)
      t.same(failed.result.errorReason, 10)
    })

    t.test('every rejection carries its reason', async (t) => {
      const good = euicc.notification(20, 'disable', mpt)
      const badSignature = Buffer.from(good)
      badSignature[badSignature.indexOf(Buffer.from([0x5f, 0x37, 0x40])) + 10] ^= 0xff
      const changed = Buffer.from(good)
      changed[changed.indexOf(Buffer.from(mpt.slice(0, 2) === '89' ? [0x5a, 0x0a] : [0x5a])) + 3] ^= 0x11
      const cases: Array<[string, Buffer | string, string]> = [
        ['bad signature', badSignature, 'bad-signature'],
        ['data changed after signing', changed, 'bad-signature'],
        ['unknown CI', euiccOf(foreign).notification(21, 'disable', mpt), 'untrusted-ci'],
        ['malformed DER', Buffer.from('30030201', 'hex'), 'malformed']
      ]
      for (const [name, der, reason] of cases) {
        const ack = await send(client, device.id, notificationMessage(der as Buffer))
        t.equal(ack.status, 'rejected', name)
        t.equal(ack.reason, reason, name)
      }
      const otherClient = await mqtt.connectAsync(hub.mqttUrl, { ...other.credentials, reconnectPeriod: 0 })
      t.teardown(() => otherClient.endAsync(true))
      await otherClient.subscribeAsync(`devices/${other.device.id}/notifications/ack`, { qos: 1 })
      const stolen = await send(otherClient, other.device.id, notificationMessage(euicc.notification(22, 'disable', mpt)))
      t.same([stolen.status, stolen.reason], ['rejected', 'eid-mismatch'], 'the EID of another device')
      const unknown = await send(otherClient, other.device.id, notificationMessage(euiccOf(createTestPki({ curve })).installationResult(1, mpt)))
      t.same([unknown.status, unknown.reason], ['rejected', 'unknown-euicc'], 'an installation result from an eUICC the hub has never seen')
      const rejected = await hub.api(token, 'GET', '/api/notifications?status=rejected&reason=bad-signature')
      t.equal(rejected.body.items.length, 2)
      t.match(await (await fetch(hub.httpUrl + '/metrics')).text(), /hub_notifications_total\{status="rejected",reason="untrusted-ci"\} 1/)
    })

    t.test('a payload that is not a notification message is quarantined and acknowledged', async (t) => {
      await client.publishAsync(`devices/${device.id}/notifications`, '{"pendingNotification": 5}', { qos: 1 })
      const [q] = await hub.database.rows<{ reason: string }>(sql`select reason from quarantine where topic like '%/notifications'`)
      t.equal(q.reason, 'invalid-message')
    })

    t.test('an inventory report is reconciled, conflicts visible', async (t) => {
      await client.publishAsync(`devices/${device.id}/inventory`, JSON.stringify({ eid: pki.eid, profiles: [{ iccid: ooredoo, state: 'disabled' }, { iccid: iccidForPrefix('899506', 9), state: 'enabled', name: 'ATOM data' }] }), { qos: 1 })
      const items = await profiles()
      t.match(items.find((p) => p.iccid === ooredoo)?.conflict, /notifications say enabled, the device reports disabled/)
      t.equal(items.find((p) => p.iccid.startsWith('899506') && p.state === 'enabled')?.operator?.name, 'ATOM')
      t.match(items.find((p) => p.iccid === mpt)?.conflict, /reports absent/)
    })
  })
}

t.test('a hub without trust anchors verifies nothing and says so', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const pki = createTestPki()
  const { device, credentials } = await hub.createDevice(token)
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  await client.subscribeAsync(`devices/${device.id}/notifications/ack`, { qos: 1 })
  const ack = await send(client, device.id, notificationMessage(euiccOf(pki).notification(1, 'enable', iccidForPrefix('899501', 1))))
  t.same(ack, { seqNumber: 1, status: 'rejected', reason: 'no-trust-anchor' })
})
