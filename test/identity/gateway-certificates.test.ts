// Site gateways with a client certificate of the hub's device CA instead of their secret: issuing (CSR,
// PKCS#12), the gateway session it opens on the TLS listener (its site's devices only, per-device rules),
// revocation, expiry, and what keeps a device's certificate from acting as a gateway and back, and one
// tenant's gateway from acting for another tenant's site.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import type mqttPacket from 'mqtt-packet'
import t, { type Test } from 'tap'
import { OID } from '../../esim/certificate-fields.ts'
import { oid, sequence, tlv } from '../../esim/der-writer.ts'
import { buildCertificate, extensions } from '../../esim/x509-builder.ts'
import { gatewayCertificates, gateways, settings } from '../../server/db/schema/index.ts'
import { loadDeviceCa } from '../../server/device-ca/device-ca.ts'
import { UserRepository } from '../../server/repositories/user-repository.ts'
import { eventually } from '../helpers/eventually.ts'
import { connectPacket, RawMqtt } from '../helpers/raw-mqtt.ts'
import { startTestHub, throwawayDatabase, type TestHub } from '../helpers/test-hub.ts'
import { p256Request, pemOf, throwawayCertificate } from '../helpers/tls-certificate.ts'

const DAY = 86_400_000
interface ClientCredentials { key: string, cert: string }

const tls = throwawayCertificate(t)
const tlsEnv = { HUB_MQTTS_PORT: '0', HUB_TLS_CERT: tls.certFile, HUB_TLS_KEY: tls.keyFile }
const databaseUrl = await throwawayDatabase(t)
const hub = await startTestHub(t, { env: { ...tlsEnv, DATABASE_URL: databaseUrl } })
const token = await hub.login()

/** A CONNECT on the TLS port: the CONNACK's return code, or 'closed' when the hub closed the socket
 * without answering (a certificate refused at the handshake). */
async function attempt (port: number, credentials: Partial<ClientCredentials> & { pfx?: Buffer, passphrase?: string }, connect: Record<string, unknown>): Promise<number | 'closed'> {
  const raw = await RawMqtt.openTls(port, { ca: tls.certPem, ...credentials })
  try {
    raw.send(connectPacket(connect))
    const answer = await raw.next('connack').catch(() => null) // closed without one
    return answer === null ? 'closed' : (answer as mqttPacket.IConnackPacket).returnCode ?? -1
  } finally {
    raw.close()
  }
}

/** MQTT.js over TLS with a client certificate; resolves once connected. */
function connectTls (t: Test, port: number, credentials: ClientCredentials, clientId: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, { ...credentials, ca: tls.certPem, clientId, reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, clean: true })
    t.teardown(() => client.endAsync(true))
    client.once('connect', () => resolve(client))
    client.once('error', reject)
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

async function newGateway (hub: TestHub, token: string, site: string): Promise<string> {
  const res = await hub.api(token, 'POST', '/api/gateways', { name: 'gateway of ' + site, site })
  if (res.status !== 201) throw new Error('gateway creation failed: ' + JSON.stringify(res.body))
  return res.body.gateway.id
}

async function siteDevice (hub: TestHub, token: string, site: string): Promise<string> {
  const { device } = await hub.createDevice(token)
  if ((await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { site })).status !== 200) throw new Error('site not set')
  return device.id
}

/** A certificate for a gateway from a CSR its bridge made (the key never leaves it). */
async function gatewayCertificate (gatewayId: string, as = token): Promise<ClientCredentials & { serial: string, body: any }> {
  const request = p256Request('site bridge')
  const res = await hub.api(as, 'POST', `/api/gateways/${gatewayId}/certificate`, { csr: request.csr })
  if (res.status !== 201) throw new Error('issuing failed: ' + JSON.stringify(res.body))
  return { key: request.keyPem, cert: res.body.certificate, serial: res.body.serial, body: res.body }
}

const telemetryCount = async (deviceId: string, as = token): Promise<number> => (await hub.api(as, 'GET', `/api/devices/${deviceId}/telemetry`)).body.items.length
const sample = (seq: number) => JSON.stringify({ ts: Date.now(), seq, rsrp: -90 })

/** The reasons of the `mqtt.connect` denials written for gateway `actorId` in its tenant. */
async function connectDenials (actorId: string): Promise<string[]> {
  await hub.audit.flush()
  const [gateway] = await hub.database.db.select({ tenantId: gateways.tenantId }).from(gateways).where(eq(gateways.id, actorId))
  const rows = (await hub.api(token, 'GET', '/api/audit?action=mqtt.connect&limit=100')).body.items
  return rows.filter((r: any) => r.actorId === actorId && r.outcome === 'denied' && r.tenantId === gateway?.tenantId).map((r: any) => r.detail?.reason)
}

const port = hub.mqttsPort as number
const site = 'yangon-1'
const gatewayId = await newGateway(hub, token, site)
const local = await siteDevice(hub, token, site)
const elsewhere = await siteDevice(hub, token, 'mandalay-2')

t.test('issuing: the subject names the gateway, stored, listed, audited', async (t) => {
  const issued = await gatewayCertificate(gatewayId)
  const cert = new X509Certificate(issued.cert)
  const ca = new X509Certificate(issued.body.caCertificate)
  t.equal(issued.body.gatewayId, gatewayId)
  t.equal(cert.subject, `OU=gateway\nCN=${gatewayId}`, 'OU=gateway, CN = the gateway id (not the CSR\'s subject)')
  t.equal(cert.subjectAltName, `URI:urn:euicc-hub:gateway:${gatewayId}`)
  t.same(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'client authentication only')
  t.ok(cert.verify(ca.publicKey), 'signed by the device CA')
  t.equal(ca.fingerprint256, new X509Certificate(await (await fetch(hub.httpUrl + '/api/device-ca', { headers: { authorization: 'Bearer ' + token } })).text()).fingerprint256, 'the same CA as devices')
  const [row] = await hub.database.db.select().from(gatewayCertificates).where(eq(gatewayCertificates.serial, issued.serial))
  t.equal(row?.gatewayId, gatewayId, 'kept in gateway_certificates')
  const listed = (await hub.api(token, 'GET', `/api/gateways/${gatewayId}/certificate`)).body.items
  t.ok(listed.some((c: any) => c.serial === issued.serial && c.revokedAt === null), 'listed')
  await hub.audit.flush()
  const audited = (await hub.api(token, 'GET', '/api/audit?action=gateway.certificate.issue')).body.items
  t.ok(audited.some((e: any) => e.target === gatewayId && e.detail?.serial === issued.serial), 'audited')

  for (const [name, body, status, code] of [
    ['not a CSR', { csr: 'hello' }, 400, 'HUB_ERR_INVALID_CSR'],
    ['neither a CSR nor pkcs12', {}, 400, 'HUB_ERR_BAD_REQUEST'],
    ['an unknown field', { csr: p256Request().csr, site: 'x' }, 400, 'HUB_ERR_VALIDATION']
  ] as const) {
    const res = await hub.api(token, 'POST', `/api/gateways/${gatewayId}/certificate`, body)
    t.equal(res.status, status, name)
    t.equal(res.body?.error?.code, code, `${name}: ${res.body?.error?.message}`)
  }
  t.equal((await hub.api(token, 'POST', '/api/gateways/no-such-gateway/certificate', { format: 'pkcs12' })).body?.error?.code, 'HUB_ERR_NOT_FOUND')
  const openapi = (await hub.api('', 'GET', '/docs/json')).body
  t.same(Object.keys(openapi.paths['/api/gateways/{id}/certificate'] ?? {}).sort(), ['delete', 'get', 'post'], 'in the OpenAPI document')
})

t.test('a gateway certificate opens a gateway session: its site\'s devices only, per device', async (t) => {
  const credentials = await gatewayCertificate(gatewayId)
  const bridge = await connectTls(t, port, credentials, gatewayId)
  const received: string[] = []
  bridge.on('message', (topic) => { received.push(topic) })
  const granted = await bridge.subscribeAsync('devices/+/commands/#', { qos: 1 })
  t.equal(granted[0]?.qos, 1, 'a gateway may hold the wildcard command filter')

  await bridge.publishAsync(`devices/${local}/telemetry`, sample(1), { qos: 1 })
  t.equal(await telemetryCount(local), 1, 'the site device\'s telemetry is stored once acknowledged')
  t.equal((await hub.api(token, 'GET', `/api/devices/${local}`)).body.status, 'online', 'online through its gateway')

  await bridge.publishAsync(`devices/${elsewhere}/telemetry`, sample(1), { qos: 1 })
  t.pass('another site\'s device: acknowledged (a bridge must not stall)')
  t.equal(await telemetryCount(elsewhere), 0, 'and not stored')
  await hub.audit.flush()
  const denied = (await hub.api(token, 'GET', '/api/audit?action=mqtt.publish&limit=100')).body.items
  t.ok(denied.some((r: any) => r.outcome === 'denied' && JSON.stringify(r.detail).includes(elsewhere)), 'and audited')

  const command = await hub.api(token, 'POST', `/api/devices/${local}/commands`, { op: 'listProfiles' })
  t.equal(command.status, 202)
  await eventually('the command through the gateway', () => received.some((topic) => topic === `devices/${local}/commands/${command.body.id}`))
  t.pass('commands for the site\'s devices flow back through the gateway')
})

t.test('a PKCS#12 bundle made by the hub connects as the gateway', async (t) => {
  const res = await hub.api(token, 'POST', `/api/gateways/${gatewayId}/certificate`, { format: 'pkcs12' })
  t.equal(res.status, 201)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(new X509Certificate(res.body.certificate).subject, `OU=gateway\nCN=${gatewayId}`)
  t.equal(await attempt(port, { pfx: Buffer.from(res.body.pkcs12, 'base64'), passphrase: res.body.password }, { clientId: gatewayId }), 0)
})

t.test('the client id must be the certificate\'s gateway', async (t) => {
  const credentials = await gatewayCertificate(gatewayId)
  const other = await newGateway(hub, token, site)
  t.equal(await attempt(port, credentials, { clientId: gatewayId }), 0, 'no username, no password')
  t.equal(await attempt(port, credentials, { clientId: gatewayId, username: gatewayId }), 0, 'username = the id')
  t.equal(await attempt(port, credentials, { clientId: other }), 5, 'another gateway of the same site')
  t.equal(await attempt(port, credentials, { clientId: local }), 5, 'a device of its site: a gateway certificate does not act as a device')
  t.equal(await attempt(port, credentials, { clientId: gatewayId, username: other }), 5)
})

t.test('a device certificate does not act as a gateway', async (t) => {
  const request = p256Request()
  const issued = await hub.api(token, 'POST', `/api/devices/${local}/certificate`, { csr: request.csr })
  const device = { key: request.keyPem, cert: issued.body.certificate as string }
  t.equal(await attempt(port, device, { clientId: gatewayId }), 5, 'with the gateway\'s id as client id')
  const client = await connectTls(t, port, device, local)
  const granted = await client.subscribeAsync('devices/+/commands/#', { qos: 1 }).then((g) => g[0]?.qos, (err) => err.packet?.granted?.[0])
  t.equal(granted, 128, 'with its own id it is a device: no wildcard')

  // A certificate of the real CA naming the gateway the way device certificates do (CN only) is a
  // device certificate, which no device holds: refused.
  const ca = await loadDeviceCa((key, create) => new UserRepository(hub.database).setting(key, create))
  const asDevice = ca.issue({ deviceId: gatewayId, publicKey: createPublicKey(request.privateKey) })
  t.equal(await attempt(port, { key: request.keyPem, cert: asDevice.pem }, { clientId: gatewayId }), 5, 'CN = the gateway id without the gateway subject')
})

t.test('half a gateway subject names nobody: closed at the handshake', async (t) => {
  // Signed with the CA's own key, so only the subject is wrong.
  const [stored] = await hub.database.db.select().from(settings).where(eq(settings.key, 'device-ca'))
  const { privateKey, certificate } = JSON.parse(stored!.value) as { privateKey: string, certificate: string }
  const caName = [[OID.organization, 'euicc-hub'], [OID.commonName, new X509Certificate(certificate).subject.split('CN=')[1]!]] as const
  const leaf = p256Request()
  const make = (subject: ReadonlyArray<readonly [string, string]>, san?: string) => pemOf('CERTIFICATE', buildCertificate({
    serialNumber: BigInt(Date.now()),
    issuer: caName,
    subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    publicKey: createPublicKey(leaf.privateKey),
    signingKey: createPrivateKey(privateKey),
    extensions: [
      extensions.keyUsage(['digitalSignature']),
      extensions.custom('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.2'))),
      ...(san === undefined ? [] : [extensions.custom(OID.subjectAltName, false, sequence(tlv(0x86, new TextEncoder().encode(san))))])
    ]
  }))
  t.equal(await attempt(port, { key: leaf.keyPem, cert: make([[OID.organizationalUnit, 'gateway'], [OID.commonName, gatewayId]]) }, { clientId: gatewayId }), 'closed', 'OU=gateway without the SAN')
  t.equal(await attempt(port, { key: leaf.keyPem, cert: make([[OID.commonName, gatewayId]], `urn:euicc-hub:gateway:${gatewayId}`) }, { clientId: gatewayId }), 'closed', 'the SAN without OU=gateway')
  t.equal(await attempt(port, { key: leaf.keyPem, cert: make([[OID.organizationalUnit, 'gateway'], [OID.commonName, gatewayId]], `urn:euicc-hub:gateway:${local}`) }, { clientId: gatewayId }), 'closed', 'a SAN naming someone else')
  await hub.audit.flush()
  const rows = await hub.database.rows<{ detail: string }>(sql`select detail::text as detail from audit_log where action = 'mqtt.connect'`)
  t.ok(rows.some((r) => r.detail.includes('certificate-subject')), 'audited as certificate-subject')
})

t.test('revocation: the open session ends, the next CONNECT is refused with 5 and audited', async (t) => {
  const revoked = await gatewayCertificate(gatewayId)
  const kept = await gatewayCertificate(gatewayId)
  const bridge = await connectTls(t, port, revoked, gatewayId)
  const ended = new Promise<void>((resolve) => bridge.once('close', () => resolve()))
  const res = await hub.api(token, 'DELETE', `/api/gateways/${gatewayId}/certificate?serial=${revoked.serial.toUpperCase()}`)
  t.same(res.body, { revoked: [revoked.serial] })
  await ended
  t.pass('the connection made with it is closed')
  t.equal(await attempt(port, revoked, { clientId: gatewayId }), 5, 'refused at CONNECT')
  t.same(await connectDenials(gatewayId), ['certificate-revoked'], 'audited, in the gateway\'s tenant')
  t.equal(await attempt(port, kept, { clientId: gatewayId }), 0, 'the gateway\'s other certificate still works')
  t.equal((await hub.api(token, 'DELETE', `/api/gateways/${gatewayId}/certificate?serial=ffff`)).status, 404, 'a serial the gateway does not have')
  await hub.audit.flush()
  const audited = (await hub.api(token, 'GET', '/api/audit?action=gateway.certificate.revoke')).body.items
  t.ok(audited.some((e: any) => e.target === gatewayId && e.detail?.serials?.includes(revoked.serial)), 'revoking is audited')
})

t.test('an expired or not yet valid gateway certificate is refused with 5 and audited', async (t) => {
  const gateway = await newGateway(hub, token, site)
  const [{ tenantId } = { tenantId: '' }] = await hub.database.db.select({ tenantId: gateways.tenantId }).from(gateways).where(eq(gateways.id, gateway))
  const ca = await loadDeviceCa((key, create) => new UserRepository(hub.database).setting(key, create))
  const request = p256Request()
  const issue = async (notBefore: number, notAfter: number) => {
    const c = ca.issue({ gatewayId: gateway, publicKey: createPublicKey(request.privateKey), validity: { notBefore: new Date(notBefore), notAfter: new Date(notAfter) } })
    await hub.database.db.insert(gatewayCertificates).values({ serial: c.serial, gatewayId: gateway, tenantId, fingerprint: c.fingerprint, keyType: 'ec-p256', der: c.der, notAfter: c.notAfter })
    return { key: request.keyPem, cert: c.pem }
  }
  t.equal(await attempt(port, await issue(Date.now() - 800 * DAY, Date.now() - DAY), { clientId: gateway }), 5, 'expired')
  t.equal(await attempt(port, await issue(Date.now() + DAY, Date.now() + 800 * DAY), { clientId: gateway }), 5, 'not yet valid')
  t.same((await connectDenials(gateway)).sort(), ['certificate-expired', 'certificate-not-yet-valid'])
  t.equal(await attempt(port, await issue(Date.now() - DAY, Date.now() + DAY), { clientId: gateway }), 0, 'the same key in a valid certificate')
})

t.test('a disabled or deleted gateway\'s certificate is refused', async (t) => {
  const gateway = await newGateway(hub, token, site)
  const credentials = await gatewayCertificate(gateway)
  t.equal(await attempt(port, credentials, { clientId: gateway }), 0)
  t.equal((await hub.api(token, 'PATCH', `/api/gateways/${gateway}`, { disabled: true })).status, 200)
  t.equal(await attempt(port, credentials, { clientId: gateway }), 5, 'disabled')
  t.equal((await hub.api(token, 'PATCH', `/api/gateways/${gateway}`, { disabled: false })).status, 200)
  t.equal(await attempt(port, credentials, { clientId: gateway }), 0, 'enabled again')
  t.equal((await hub.api(token, 'DELETE', `/api/gateways/${gateway}`)).status, 204)
  t.equal(await attempt(port, credentials, { clientId: gateway }), 5, 'deleted (its certificates go with it)')
})

t.test('a gateway certificate of one tenant cannot act for another tenant\'s site', async (t) => {
  const tenant = await hub.api(token, 'POST', '/api/tenants', { name: 'Another Fleet' })
  const email = 'gateways-admin@other.test'
  const password = 'another long passphrase 42'
  t.equal((await hub.api(token, 'POST', '/api/users', { email, password, role: 'admin', tenantId: tenant.body.id })).status, 201)
  const outsider = (await hub.api('', 'POST', '/api/auth/login', { email, password })).body.accessToken as string
  const theirs = await siteDevice(hub, outsider, site) // the same site name, in the other tenant
  const theirGateway = await newGateway(hub, outsider, site)

  const bridge = await connectTls(t, port, await gatewayCertificate(gatewayId), gatewayId)
  await bridge.publishAsync(`devices/${theirs}/telemetry`, sample(1), { qos: 1 })
  await bridge.publishAsync(`devices/${local}/telemetry`, sample(100), { qos: 1 })
  t.equal(await telemetryCount(theirs, outsider), 0, 'the other tenant\'s device at a site of the same name: nothing stored')

  const theirBridge = await connectTls(t, port, await gatewayCertificate(theirGateway, outsider), theirGateway)
  const before = await telemetryCount(local)
  await theirBridge.publishAsync(`devices/${local}/telemetry`, sample(101), { qos: 1 })
  await theirBridge.publishAsync(`devices/${theirs}/telemetry`, sample(1), { qos: 1 })
  t.equal(await telemetryCount(theirs, outsider), 1, 'their gateway acts for their device')
  t.equal(await telemetryCount(local), before, 'and not for ours')

  const csr = p256Request().csr
  t.equal((await hub.api(outsider, 'POST', `/api/gateways/${gatewayId}/certificate`, { csr })).status, 404, 'another tenant\'s gateway is not found')
  t.equal((await hub.api(outsider, 'GET', `/api/gateways/${gatewayId}/certificate`)).status, 404)
  t.equal((await hub.api(outsider, 'DELETE', `/api/gateways/${gatewayId}/certificate`)).status, 404)
})

t.test('revocation reaches every process', { skip: process.env.DATABASE_URL === undefined || process.env.REDIS_URL === undefined ? 'needs DATABASE_URL and REDIS_URL' : false }, async (t) => {
  const peer = await startTestHub(t, { env: { ...tlsEnv, DATABASE_URL: databaseUrl } })
  const peerPort = peer.mqttsPort as number
  const gateway = await newGateway(hub, token, site)
  const credentials = await gatewayCertificate(gateway)
  const bridge = await connectTls(t, peerPort, credentials, gateway)
  const ended = new Promise<void>((resolve) => bridge.once('close', () => resolve()))
  t.same((await hub.api(token, 'DELETE', `/api/gateways/${gateway}/certificate`)).body, { revoked: [credentials.serial] })
  await ended
  t.pass('the session on the other process ends (gateway.revoked over Redis)')
  t.equal(await attempt(peerPort, credentials, { clientId: gateway }), 5, 'and the other process refuses it at CONNECT')
})
