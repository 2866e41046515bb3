import t from 'tap'
import mqtt from 'mqtt'
import { eventually } from '../helpers/eventually.ts'
import { sql } from 'drizzle-orm'
import { eidForPrefix } from '../../esim/eid.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { createTestCi, createTestPki, issueEuiccCertificate, issueEumCertificate, type TestPki } from '../../esim/test-pki.ts'
import { euiccOf, notificationMessage, sendNotification, toPem, trustDir } from '../helpers/euicc-fixtures.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

// RELIABILITY 56 (tenant trust anchors), 57 (registered certificates), 61 (EID conflicts name nobody).

const password = 'a sturdy passphrase 42'

async function signIn (hub: TestHub, email: string): Promise<string> {
  const res = await hub.api('', 'POST', '/api/auth/login', { email, password })
  if (res.status !== 200) throw new Error('sign-in failed for ' + email)
  return res.body.accessToken as string
}

async function es9plus (hub: TestHub, der: Buffer): Promise<number> {
  const res = await fetch(hub.httpUrl + '/gsma/rsp2/es9plus/handleNotification', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-protocol': 'gsma/rsp/v2.2.0' },
    body: JSON.stringify({ pendingNotification: der.toString('base64') })
  })
  await res.arrayBuffer()
  return res.status
}

/** Polls until the ES9+ inbox is empty: every posted notification has its outcome committed. */
async function inboxDrained (hub: TestHub): Promise<void> {
  await eventually('the ES9+ inbox drained', async () => {
    const [{ n }] = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from notification_inbox`)
    return n === 0
  })
}

/** A PKI whose eUICC carries `eid`, under the CI of `base` (a new EUM whose range holds the EID). */
function underCi (base: TestPki, eid: string): TestPki {
  const eum = issueEumCertificate(base.ci, { eumPrefix: eid.slice(0, 8) })
  return { ...base, eum, euicc: issueEuiccCertificate(eum, { eid }), eid, eumPrefix: eid.slice(0, 8) }
}

t.test('trust anchors are scoped by tenant; ES9+ binds by EID; registered certificates are chain-checked', async (t) => {
  const platformPki = createTestPki() // the platform's CI, trusted for everyone (directory anchor)
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [createTestCi('P-256', 'Directory CI').certificateDer]) } })
  const root = await hub.login() // platform admin of the default tenant (tenant A)
  const tenantB = (await hub.api(root, 'POST', '/api/tenants', { name: 'Tenant B' })).body.id as string
  for (const [email, tenantId] of [['admin-a@example.test', undefined], ['admin-b@example.test', tenantB]] as const) {
    t.equal((await hub.api(root, 'POST', '/api/users', { email, password, role: 'admin', tenantId })).status, 201, email)
  }
  const adminA = await signIn(hub, 'admin-a@example.test')
  const adminB = await signIn(hub, 'admin-b@example.test')

  const platformAnchor = await hub.api(root, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(platformPki.ci.certificateDer) })
  t.equal(platformAnchor.status, 201)
  t.match(platformAnchor.body, { scope: 'platform', tenantId: null, source: 'api' }, 'a platform admin adds a platform anchor')

  // Tenant A's device and a verified baseline.
  const { device: deviceA } = await hub.createDevice(adminA, { eid: platformPki.eid })
  const iccid = iccidForPrefix('899501', 1)
  t.equal(await es9plus(hub, euiccOf(platformPki).notification(1, 'enable', iccid)), 204)
  await inboxDrained(hub)
  const profilesA = async () => (await hub.api(adminA, 'GET', `/api/devices/${deviceA.id as string}/profiles`)).body.items.map((p: any) => [p.iccid, p.state, p.seqNumber])
  t.same(await profilesA(), [[iccid, 'enabled', 1]], 'the platform-trusted notification is applied')

  // Tenant B's admin adds a CA of its own.
  const pkiB = createTestPki({ eid: eidForPrefix('89049032', 777_000n) })
  const anchorB = await hub.api(adminB, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(pkiB.ci.certificateDer) })
  t.equal(anchorB.status, 201)
  t.match(anchorB.body, { scope: 'tenant', tenantId: tenantB }, "a tenant admin's anchor is its tenant's")
  t.equal((await hub.api(adminB, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(createTestCi().certificateDer), tenantId: hub.bootstrap.tenantId })).status, 403, 'a tenant admin cannot add for another tenant')
  const listB = (await hub.api(adminB, 'GET', '/api/euicc/trust-anchors')).body.items
  t.same(listB.map((a: any) => a.scope).sort(), ['platform', 'platform', 'tenant'], 'B sees the platform anchors and its own, marked with scope')
  const listA = (await hub.api(adminA, 'GET', '/api/euicc/trust-anchors')).body.items
  t.notOk(listA.some((a: any) => a.id === anchorB.body.id), "A does not see B's anchor")
  t.ok((await hub.api(root, 'GET', '/api/euicc/trust-anchors')).body.items.some((a: any) => a.id === anchorB.body.id), 'a platform admin sees every tenant\'s')

  t.test('56: a notification naming A\'s EID, signed under B\'s CA, is rejected; A\'s inventory is unchanged', async (t) => {
    const forged = underCi(pkiB, platformPki.eid) // an eUICC certificate for A's EID, issued under B's CA
    const forgedDer = euiccOf(forged).notification(50, 'disable', iccid)
    t.equal(await es9plus(hub, forgedDer), 204, 'ES9+ answers 204 as SGP.22 says')
    await inboxDrained(hub)
    const stored = (await hub.api(adminA, 'GET', `/api/devices/${deviceA.id as string}/notifications?status=rejected`)).body.items
    t.match(stored.find((n: any) => n.seqNumber === 50), { reason: 'untrusted-ci', source: 'es9plus' }, 'verified with the anchors of A (the device holding the EID), not B\'s')
    t.same(await profilesA(), [[iccid, 'enabled', 1]], 'A\'s inventory is unchanged')

    // Over MQTT, from a device of tenant B: B's anchors verify the chain, but the EID is A's device's.
    const deviceB = await hub.createDevice(adminB)
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...deviceB.credentials, reconnectPeriod: 0 })
    t.teardown(() => client.endAsync(true))
    await client.subscribeAsync(`devices/${deviceB.device.id as string}/notifications/ack`, { qos: 1 })
    const overMqtt = await sendNotification(client, deviceB.device.id, notificationMessage(euiccOf(forged).notification(51, 'disable', iccid)))
    t.same([overMqtt.status, overMqtt.reason], ['rejected', 'eid-mismatch'])
    const [row] = await hub.database.rows<{ detail: string }>(sql`select detail from notifications where seq_number = 51`)
    t.notMatch(row.detail, deviceA.id, 'the rejection B reads does not name A\'s device')
    t.same(await profilesA(), [[iccid, 'enabled', 1]], 'A\'s inventory is still unchanged')

    // B's own anchor works for B's own devices, over both ways in (so the rejections above are the scope).
    const ownB = await hub.createDevice(adminB, { eid: pkiB.eid })
    t.equal(await es9plus(hub, euiccOf(pkiB).notification(1, 'enable', iccidForPrefix('899505', 2))), 204)
    await inboxDrained(hub)
    const listedB = (await hub.api(adminB, 'GET', `/api/devices/${ownB.device.id as string}/notifications`)).body.items
    t.match(listedB, [{ seqNumber: 1, status: 'accepted', source: 'es9plus' }], 'B\'s own eUICC under B\'s CA is accepted')
  })

  t.test('56: B cannot delete the platform\'s anchors or A\'s; it deletes its own', async (t) => {
    const dirAnchor = (await hub.api(adminB, 'GET', '/api/euicc/trust-anchors')).body.items.find((a: any) => a.source === 'directory')
    const refused = await hub.api(adminB, 'DELETE', `/api/euicc/trust-anchors/${platformAnchor.body.id as string}`)
    t.equal(refused.status, 403)
    t.equal(refused.body.error.code, 'HUB_ERR_PLATFORM_TRUST_ANCHOR')
    t.equal((await hub.api(adminB, 'DELETE', `/api/euicc/trust-anchors/${dirAnchor.id as string}`)).status, 409, 'a directory anchor is removed by removing its file')
    const anchorA = await hub.api(adminA, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(createTestCi().certificateDer) })
    t.match(anchorA.body, { scope: 'tenant', tenantId: hub.bootstrap.tenantId })
    const other = await hub.api(adminB, 'DELETE', `/api/euicc/trust-anchors/${anchorA.body.id as string}`)
    t.same([other.status, other.body.error.code], [404, 'HUB_ERR_NOT_FOUND'], 'another tenant\'s anchor is not found')
    t.equal((await hub.api(adminA, 'DELETE', `/api/euicc/trust-anchors/${platformAnchor.body.id as string}`)).status, 403, 'nor can A\'s (non-platform) admin')
    t.ok((await hub.api(root, 'GET', '/api/euicc/trust-anchors')).body.items.some((a: any) => a.id === platformAnchor.body.id), 'the platform anchor is still there')
    t.equal((await hub.api(adminA, 'DELETE', `/api/euicc/trust-anchors/${anchorA.body.id as string}`)).status, 204, 'A deletes its own')
    const forTenant = await hub.api(root, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(createTestCi().certificateDer), tenantId: tenantB })
    t.match(forTenant.body, { scope: 'tenant', tenantId: tenantB }, 'a platform admin may add for a given tenant')
    t.equal((await hub.api(root, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(createTestCi().certificateDer), tenantId: '00000000-0000-4000-8000-000000000000' })).status, 404, 'not for a tenant that does not exist')
    t.equal((await hub.api(root, 'DELETE', `/api/euicc/trust-anchors/${forTenant.body.id as string}`)).status, 204)
  })

  t.test('57: a registered certificate gets the GSMA chain check; one that fails it is refused, and never verifies', async (t) => {
    const outside = issueEuiccCertificate(platformPki.eum, { eid: eidForPrefix('89049033', 5n) }) // outside the EUM's 89049032 range
    const refused = await hub.api(adminA, 'POST', '/api/devices', { name: 'outside', euiccCertificate: toPem(outside.certificateDer), eumCertificate: toPem(platformPki.eum.certificateDer) })
    t.equal(refused.status, 400)
    t.equal(refused.body.error.code, 'HUB_ERR_INVALID_EUICC_CERTIFICATE')
    t.match(refused.body.error.message, /eid-not-permitted/)
    const stranger = createTestPki({ eid: eidForPrefix('89049032', 6n) })
    const untrusted = await hub.api(adminA, 'POST', '/api/devices', { name: 'stranger', euiccCertificate: toPem(stranger.euicc.certificateDer), eumCertificate: toPem(stranger.eum.certificateDer) })
    t.same([untrusted.status, untrusted.body.error.code], [400, 'HUB_ERR_INVALID_EUICC_CERTIFICATE'])
    t.match(untrusted.body.error.message, /untrusted-ci/)
    const underB = underCi(pkiB, eidForPrefix('89049032', 7n))
    const body = { euiccCertificate: toPem(underB.euicc.certificateDer), eumCertificate: toPem(underB.eum.certificateDer) }
    t.match((await hub.api(adminA, 'POST', '/api/devices', { name: 'B-issued in A', ...body })).body.error.message, /untrusted-ci/, "A does not trust B's CA")
    t.equal((await hub.api(adminA, 'POST', '/api/devices', { name: 'no EUM', euiccCertificate: body.euiccCertificate })).status, 400, 'the EUM certificate is required')
    const [{ n }] = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from devices where name in ('outside', 'stranger', 'B-issued in A', 'no EUM')`)
    t.equal(n, 0, 'no refused device was created')

    // B registers one under its own CA; it verifies installation results while B trusts that CA, not after.
    const registered = await hub.api(adminB, 'POST', '/api/devices', { name: 'registered in B', ...body })
    t.equal(registered.status, 201)
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...registered.body.credentials, reconnectPeriod: 0 })
    t.teardown(() => client.endAsync(true))
    const id = registered.body.device.id as string
    await client.subscribeAsync(`devices/${id}/notifications/ack`, { qos: 1 })
    const eu = euiccOf(underB)
    t.same(await sendNotification(client, id, notificationMessage(eu.installationResult(1, iccidForPrefix('899509', 3)))), { seqNumber: 1, status: 'accepted' })
    t.equal((await hub.api(adminB, 'DELETE', `/api/euicc/trust-anchors/${anchorB.body.id as string}`)).status, 204)
    const after = await sendNotification(client, id, notificationMessage(eu.installationResult(2, iccidForPrefix('899509', 4))))
    t.same([after.status, after.reason], ['rejected', 'untrusted-ci'], 'the registered certificate is chain-checked again, against the anchors of now')
  })

  t.test('61: an EID another device holds (any tenant) → 409 naming neither the tenant nor its device', async (t) => {
    const b = await hub.createDevice(adminB, { name: 'b-device' })
    const patched = await hub.api(adminB, 'PATCH', `/api/devices/${b.device.id as string}`, { eid: platformPki.eid })
    t.equal(patched.status, 409)
    t.equal(patched.body.error.code, 'HUB_ERR_EID_TAKEN')
    const text = JSON.stringify(patched.body)
    t.notMatch(text, deviceA.id)
    t.notMatch(text, hub.bootstrap.tenantId)
    const created = await hub.api(adminB, 'POST', '/api/devices', { name: 'dup', eid: platformPki.eid })
    t.same([created.status, created.body.error.code], [409, 'HUB_ERR_EID_TAKEN'])
    t.equal((await hub.api(adminB, 'PATCH', `/api/devices/${b.device.id as string}`, { eid: eidForPrefix('89049032', 8n) })).status, 200, 'a free EID is fine')
  })
})
