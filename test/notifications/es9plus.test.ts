import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { createTestPki } from '../../esim/test-pki.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { euiccOf, toPem, trustDir } from '../helpers/euicc-fixtures.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

function post (hub: TestHub, body: unknown) {
  return fetch(hub.httpUrl + '/gsma/rsp2/es9plus/handleNotification', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-protocol': 'gsma/rsp/v2.2.0' },
    body: JSON.stringify(body)
  })
}

/** Polls the fleet-wide list until the notification with `seqNumber` has left `pending`. */
async function settled (hub: TestHub, token: string, seqNumber: number) {
  return await eventually(`notification ${seqNumber} settled`, async () => {
    const items = (await hub.api(token, 'GET', '/api/notifications')).body.items as Array<{ seqNumber: number, status: string, reason: string | null, source: string, deviceId: string }>
    return items.find((n) => n.seqNumber === seqNumber && n.status !== 'pending')
  })
}

t.test('ES9+ handleNotification: 204 with an empty body, matched to its device by EID, same pipeline', async (t) => {
  const pki = createTestPki()
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [pki.ci.certificateDer]) } })
  const token = await hub.login()
  const { device } = await hub.createDevice(token, { eid: pki.eid })
  const euicc = euiccOf(pki)
  const iccid = iccidForPrefix('899509', 7)

  const res = await post(hub, { pendingNotification: euicc.notification(5, 'enable', iccid).toString('base64') })
  t.equal(res.status, 204)
  t.equal(await res.text(), '', 'empty body')
  const accepted = await settled(hub, token, 5)
  t.same([accepted.status, accepted.source, accepted.deviceId], ['accepted', 'es9plus', device.id])
  const profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.same(profiles.map((p: { iccid: string, state: string }) => [p.iccid, p.state]), [[iccid, 'enabled']])

  const bad = euicc.notification(6, 'disable', iccid)
  bad[bad.length - 100] ^= 0xff // inside the EUM certificate's signature
  const rejectedRes = await post(hub, { pendingNotification: bad.toString('base64') })
  t.equal(rejectedRes.status, 204, 'also 204 for a notification it rejects')
  t.equal((await settled(hub, token, 6)).status, 'rejected')

  const again = await post(hub, { pendingNotification: euicc.notification(5, 'enable', iccid).toString('base64') })
  t.equal(again.status, 204, 'a duplicate is answered like a success')
  t.equal((await post(hub, { nope: 1 })).status, 400, 'a body that is not a notification message is a 400')
})

t.test('trust anchors through the API: add, list, remove; a device registered with its certificates', async (t) => {
  const pki = createTestPki()
  const hub = await startTestHub(t)
  const token = await hub.login()
  t.same((await hub.api(token, 'GET', '/api/euicc/trust-anchors')).body.items, [])
  t.equal((await hub.api(token, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(pki.euicc.certificateDer) })).status, 400, 'not a CA certificate')
  const added = await hub.api(token, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(pki.ci.certificateDer) })
  t.equal(added.status, 201)
  t.match(added.body.subject, 'Test CI')
  t.equal((await hub.api(token, 'GET', '/api/euicc/trust-anchors')).body.items.length, 1)

  // An installation result before any other notification: verified with the registered certificates.
  const registered = await hub.api(token, 'POST', '/api/devices', { name: 'with cert', euiccCertificate: toPem(pki.euicc.certificateDer), eumCertificate: toPem(pki.eum.certificateDer) })
  t.equal(registered.status, 201)
  t.equal(registered.body.device.eid, pki.eid, 'the EID comes from the certificate')
  const res = await post(hub, { pendingNotification: euiccOf(pki).installationResult(3, iccidForPrefix('899501', 3)).toString('base64') })
  t.equal(res.status, 204)

  const removed = await hub.api(token, 'DELETE', `/api/euicc/trust-anchors/${added.body.id as string}`)
  t.equal(removed.status, 204)
  t.same((await hub.api(token, 'GET', '/api/euicc/trust-anchors')).body.items, [])
  t.equal((await hub.api(token, 'GET', '/api/operators')).body.items.length, 4, "Myanmar's four operators are seeded")
})
