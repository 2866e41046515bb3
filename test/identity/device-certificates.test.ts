// Device client certificates end to end: the device CA, CSR signing (P-256, RSA-2048), PKCS#12 bundles,
// mTLS on the hub's TLS listener over real sockets (RELIABILITY 6, 7), revocation on every process.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, sign, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { eq, sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import forge from 'node-forge'
import t, { type Test } from 'tap'
import { deviceCertificates, devices, settings } from '../../server/db/schema/index.ts'
import { loadDeviceCa } from '../../server/device-ca/device-ca.ts'
import { bitString, integer, oid, sequence, tlv } from '../../esim/der-writer.ts'
import { OID } from '../../esim/certificate-fields.ts'
import { buildCertificate, encodeName, extensions, keyIdentifier } from '../../esim/x509-builder.ts'
import { UserRepository } from '../../server/repositories/user-repository.ts'
import { startTestHub, throwawayDatabase, type TestHub } from '../helpers/test-hub.ts'

const CLIENT_AUTH = sequence(oid('1.3.6.1.5.5.7.3.2'))
const DAY = 86_400_000

function pem (label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`
}

/** A PKCS#10 request written with the project's DER writer; `signedCn` ≠ `cn` makes its signature wrong. */
function csrOf (keys: { privateKey: KeyObject, publicKey: KeyObject }, cn: string, options: { hash?: string | null, algorithm: string, signedCn?: string }): string {
  const info = (name: string) => sequence(integer(0), encodeName([[OID.commonName, name]]),
    new Uint8Array(keys.publicKey.export({ type: 'spki', format: 'der' })), tlv(0xa0))
  const signature = sign(options.hash ?? null, info(options.signedCn ?? cn), { key: keys.privateKey, dsaEncoding: 'der' })
  return pem('CERTIFICATE REQUEST', sequence(info(cn), sequence(oid(options.algorithm)), bitString(new Uint8Array(signature))))
}

const ecKeys = (curve = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve })
const ecCsr = (keys: ReturnType<typeof ecKeys>, cn: string, signedCn?: string) => csrOf(keys, cn, { hash: 'sha256', algorithm: '1.2.840.10045.4.3.2', signedCn })

function rsaCsr (bits: number, cn: string): { csr: string, keyPem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 })
  const csr = forge.pki.createCertificationRequest()
  csr.publicKey = keys.publicKey
  csr.setSubject([{ name: 'commonName', value: cn }])
  csr.sign(keys.privateKey, forge.md.sha256.create())
  return { csr: forge.pki.certificationRequestToPem(csr), keyPem: forge.pki.privateKeyToPem(keys.privateKey) }
}

const keyPem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string

/** A self-signed CA that is not the hub's, and a client certificate from it. */
function foreignCa () {
  const ca = ecKeys()
  const name = [[OID.commonName, 'not the hub']] as const
  const caDer = buildCertificate({ serialNumber: 7, issuer: name, subject: name, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY), publicKey: ca.publicKey, signingKey: ca.privateKey, extensions: [extensions.basicConstraints(true, 0), extensions.keyUsage(['keyCertSign']), extensions.subjectKeyIdentifier(keyIdentifier(ca.publicKey))] })
  return (deviceId: string) => {
    const leaf = ecKeys()
    const der = buildCertificate({ serialNumber: 8, issuer: name, subject: [[OID.commonName, deviceId]], notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY), publicKey: leaf.publicKey, signingKey: ca.privateKey, extensions: [extensions.keyUsage(['digitalSignature']), extensions.custom('2.5.29.37', false, CLIENT_AUTH)] })
    return { key: keyPem(leaf.privateKey), cert: pem('CERTIFICATE', der) + pem('CERTIFICATE', caDer) }
  }
}

/** The hub's own TLS server certificate (for 127.0.0.1), written where HUB_TLS_CERT/KEY point. */
function serverCredentials (dir: string) {
  const keys = ecKeys()
  const name = [[OID.commonName, 'hub.test']] as const
  const san = extensions.custom(OID.subjectAltName, false, sequence(tlv(0x87, Uint8Array.of(127, 0, 0, 1))))
  const der = buildCertificate({ serialNumber: 1, issuer: name, subject: name, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY), publicKey: keys.publicKey, signingKey: keys.privateKey, extensions: [san] })
  const certPem = pem('CERTIFICATE', der)
  writeFileSync(join(dir, 'hub.crt'), certPem)
  writeFileSync(join(dir, 'hub.key'), keyPem(keys.privateKey))
  return { certPath: join(dir, 'hub.crt'), keyPath: join(dir, 'hub.key'), certPem }
}

type Attempt = { connack: number } | { closed: true, bytes: number }

/** One TLS connection that sends a CONNECT after the handshake: the CONNACK's return code, or that the
 * hub closed the socket without answering a byte of MQTT. */
function attempt (port: number, ca: string, tls: ConnectionOptions, connect: { clientId: string, username?: string, password?: string }): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ...tls })
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    let bytes = 0
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') { resolve({ connack: (packet as mqttPacket.IConnackPacket).returnCode ?? -1 }); socket.destroy() }
    })
    socket.on('secureConnect', () => {
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, ...connect } as mqttPacket.IConnectPacket))
    })
    socket.on('data', (chunk: Buffer) => { bytes += chunk.length; parser.parse(chunk) })
    socket.on('error', () => {})
    socket.on('close', () => resolve({ closed: true, bytes }))
  })
}

const CLOSED = { closed: true, bytes: 0 }

/** MQTT.js over TLS; resolves once connected (or rejects with the refusal). */
function mqttTls (t: Test, port: number, options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...options })
    t.teardown(() => client.endAsync(true))
    client.once('connect', () => resolve(client))
    client.once('error', reject)
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

async function telemetryOf (hub: TestHub, token: string, deviceId: string): Promise<Array<{ seq?: number }>> {
  return (await hub.api(token, 'GET', `/api/devices/${deviceId}/telemetry`)).body.items
}

const dir = mkdtempSync(join(tmpdir(), 'hub-mtls-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const server = serverCredentials(dir)
const tlsEnv = { HUB_MQTTS_PORT: '0', HUB_TLS_CERT: server.certPath, HUB_TLS_KEY: server.keyPath }
const databaseUrl = await throwawayDatabase(t)
const hub = await startTestHub(t, { env: { ...tlsEnv, DATABASE_URL: databaseUrl } })
const port = hub.mqttsPort as number
const token = await hub.login()
const issue = async (deviceId: string, body: Record<string, unknown>) => await hub.api(token, 'POST', `/api/devices/${deviceId}/certificate`, body)
const caPem = async () => await (await fetch(hub.httpUrl + '/api/device-ca', { headers: { authorization: 'Bearer ' + token } })).text()
const tenantOf = async (deviceId: string) => (await hub.database.db.select({ tenantId: devices.tenantId }).from(devices).where(eq(devices.id, deviceId)))[0]!.tenantId

t.test('the device CA is made once and served as PEM', async (t) => {
  const res = await fetch(hub.httpUrl + '/api/device-ca', { headers: { authorization: 'Bearer ' + token } })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /application\/x-pem-file/)
  const ca = new X509Certificate(await res.text())
  t.ok(ca.ca, 'a CA certificate')
  t.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  t.ok(ca.verify(ca.publicKey), 'self-signed')
  t.ok(new Date(ca.validTo).getTime() > Date.now() + 20 * 365 * DAY, 'valid for decades')
  const [stored] = await hub.database.db.select().from(settings).where(eq(settings.key, 'device-ca'))
  t.equal(new X509Certificate(JSON.parse(stored?.value ?? '{}').certificate).fingerprint256, ca.fingerprint256, 'kept in settings')
  t.equal((await fetch(hub.httpUrl + '/api/device-ca')).status, 401)
})

t.test('CSR signing', async (t) => {
  const ca = new X509Certificate(await caPem())
  const { device } = await hub.createDevice(token)

  t.test('ECDSA P-256', async (t) => {
    const keys = ecKeys()
    const res = await issue(device.id, { csr: ecCsr(keys, 'whatever the device says') })
    t.equal(res.status, 201, res.body?.error?.message ?? 'issued')
    const cert = new X509Certificate(res.body.certificate)
    t.equal(cert.subject, `CN=${device.id}`, 'CN is the device id, not the CSR\'s subject')
    t.equal(cert.issuer, ca.subject)
    t.ok(cert.verify(ca.publicKey), 'signed by the device CA')
    t.ok(cert.checkPrivateKey(keys.privateKey), 'for the CSR\'s key')
    t.same(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'client authentication only')
    t.notOk(cert.ca)
    t.equal(res.body.keyType, 'ec-p256')
    t.equal(BigInt('0x' + cert.serialNumber).toString(16), res.body.serial)
    t.ok(res.body.serial.length >= 30, 'a random 16-byte serial')
    const days = (new Date(cert.validTo).getTime() - Date.now()) / DAY
    t.ok(days > 729 && days <= 730, `valid two years (${days} days)`)
    const [row] = await hub.database.db.select().from(deviceCertificates).where(eq(deviceCertificates.serial, res.body.serial))
    t.equal(row?.deviceId, device.id, 'stored in device_certificates')
    t.equal(row?.fingerprint, cert.fingerprint256.replace(/:/g, '').toLowerCase())
    const again = await issue(device.id, { csr: ecCsr(keys, 'x') })
    t.not(again.body.serial, res.body.serial, 'serials differ')
  })

  t.test('ECDSA P-256 from openssl', { skip: opensslMissing() }, async (t) => {
    const key = join(dir, 'openssl.key')
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key])
    const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=modem', '-sha256'], { encoding: 'utf8' })
    const res = await issue(device.id, { csr })
    t.equal(res.status, 201, res.body?.error?.message ?? 'issued')
    t.ok(new X509Certificate(res.body.certificate).checkPrivateKey(createPrivateKey(execFileSync('cat', [key]))))
  })

  t.test('RSA-2048 (node-forge)', async (t) => {
    const { csr, keyPem: rsaKey } = rsaCsr(2048, 'rsa modem')
    const res = await issue(device.id, { csr })
    t.equal(res.status, 201, res.body?.error?.message ?? 'issued')
    t.equal(res.body.keyType, 'rsa-2048')
    const cert = new X509Certificate(res.body.certificate)
    t.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048)
    t.ok(cert.checkPrivateKey(createPrivateKey(rsaKey)))
    t.ok(cert.verify(ca.publicKey))
  })

  t.test('what is refused, with a code', async (t) => {
    const p256 = ecKeys()
    const ed = generateKeyPairSync('ed25519')
    const rsaBad = rsaCsr(2048, 'rsa modem')
    const der = Buffer.from(rsaBad.csr.replace(/-----[^-]+-----|\s/g, ''), 'base64')
    der[der.indexOf(Buffer.from('rsa modem'))] ^= 0x01 // the subject no longer matches the signature
    for (const [name, body, code] of [
      ['P-384', { csr: csrOf(ecKeys('P-384'), 'x', { hash: 'sha384', algorithm: '1.2.840.10045.4.3.3' }) }, 'HUB_ERR_UNSUPPORTED_KEY_TYPE'],
      ['Ed25519', { csr: csrOf(ed, 'x', { hash: null, algorithm: '1.3.101.112' }) }, 'HUB_ERR_UNSUPPORTED_KEY_TYPE'],
      ['RSA-1024', { csr: rsaCsr(1024, 'x').csr }, 'HUB_ERR_UNSUPPORTED_KEY_TYPE'],
      ['a P-256 CSR whose signature is not over its content', { csr: ecCsr(p256, 'device-a', 'device-b') }, 'HUB_ERR_INVALID_CSR'],
      ['an RSA CSR altered after signing', { csr: pem('CERTIFICATE REQUEST', der) }, 'HUB_ERR_INVALID_CSR'],
      ['not PEM', { csr: 'hello' }, 'HUB_ERR_INVALID_CSR'],
      ['PEM of garbage', { csr: pem('CERTIFICATE REQUEST', Buffer.from('garbage')) }, 'HUB_ERR_INVALID_CSR'],
      ['a certificate instead of a CSR', { csr: await caPem() }, 'HUB_ERR_INVALID_CSR'],
      ['neither a CSR nor pkcs12', {}, 'HUB_ERR_BAD_REQUEST'],
      ['a CSR and pkcs12', { csr: ecCsr(p256, 'x'), format: 'pkcs12' }, 'HUB_ERR_BAD_REQUEST'],
      ['an unknown key type', { format: 'pkcs12', keyType: 'dsa' }, 'HUB_ERR_VALIDATION']
    ] as const) {
      const res = await issue(device.id, body)
      t.equal(res.status, 400, name)
      t.equal(res.body?.error?.code, code, `${name}: ${res.body?.error?.message}`)
    }
    const rows = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from device_certificates where device_id = ${device.id} and key_type <> 'ec-p256' and key_type <> 'rsa-2048'`)
    t.equal(rows[0]?.n, 0)
  })
})

t.test('tenants and roles', async (t) => {
  const { device } = await hub.createDevice(token)
  const other = await hub.api(token, 'POST', '/api/tenants', { name: 'Certificates Elsewhere' })
  const password = 'another long passphrase 42'
  const signIn = async (email: string, role: string, tenantId?: string) => {
    t.equal((await hub.api(token, 'POST', '/api/users', { email, password, role, tenantId })).status, 201)
    return (await hub.api('', 'POST', '/api/auth/login', { email, password })).body.accessToken as string
  }
  const outsider = await signIn('certs-admin@other.test', 'admin', other.body.id)
  const technician = await signIn('certs-tech@example.test', 'technician')
  const operator = await signIn('certs-op@example.test', 'operator')
  const csr = ecCsr(ecKeys(), 'x')
  t.equal((await hub.api(outsider, 'POST', `/api/devices/${device.id}/certificate`, { csr })).status, 404, 'another tenant\'s device')
  t.equal((await hub.api(outsider, 'DELETE', `/api/devices/${device.id}/certificate`)).status, 404)
  t.equal((await hub.api(outsider, 'GET', `/api/devices/${device.id}/certificate`)).status, 404)
  t.equal((await hub.api(technician, 'POST', `/api/devices/${device.id}/certificate`, { csr })).status, 403)
  t.equal((await hub.api(technician, 'DELETE', `/api/devices/${device.id}/certificate`)).status, 403)
  const issued = await hub.api(operator, 'POST', `/api/devices/${device.id}/certificate`, { csr })
  t.equal(issued.status, 201)
  t.equal((await hub.api(operator, 'DELETE', `/api/devices/${device.id}/certificate?serial=ffff`)).status, 404, 'a serial the device does not have')
  t.same((await hub.api(operator, 'DELETE', `/api/devices/${device.id}/certificate?serial=${issued.body.serial}`)).body, { revoked: [issued.body.serial] })
  await hub.audit.flush()
  const actions = (await hub.api(token, 'GET', '/api/audit?action=device.certificate.issue')).body.items.filter((e: { target: string }) => e.target === device.id)
  t.equal(actions.length, 1, 'issuing is audited')
  t.equal(actions[0]?.detail?.serial, issued.body.serial)
  const revokes = (await hub.api(token, 'GET', '/api/audit?action=device.certificate.revoke')).body.items.filter((e: { target: string }) => e.target === device.id)
  t.same(revokes[0]?.detail?.serials, [issued.body.serial], 'revoking is audited')
})

t.test('mTLS on the TLS listener', async (t) => {
  const { device, credentials } = await hub.createDevice(token)
  const keys = ecKeys()
  const issued = await issue(device.id, { csr: ecCsr(keys, device.id) })
  const mine = { key: keyPem(keys.privateKey), cert: issued.body.certificate as string }

  t.test('a certificate of the device CA authenticates its device without a password', async (t) => {
    t.same(await attempt(port, server.certPem, mine, { clientId: device.id }), { connack: 0 }, 'no username, no password')
    t.same(await attempt(port, server.certPem, mine, { clientId: device.id, username: device.id }), { connack: 0 }, 'username = the id')
    const client = await mqttTls(t, port, { ...mine, ca: server.certPem, clientId: device.id })
    await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -91 }), { qos: 1 })
    const items = await telemetryOf(hub, token, device.id)
    t.equal(items.length, 1, 'the acknowledged publish is stored')
    t.equal(items[0]?.seq, 1)
  })

  t.test('the client id must be the certificate\'s device', async (t) => {
    const { device: other } = await hub.createDevice(token)
    t.same(await attempt(port, server.certPem, mine, { clientId: other.id }), { connack: 5 })
    t.same(await attempt(port, server.certPem, mine, { clientId: device.id, username: other.id }), { connack: 5 })
  })

  t.test('a certificate from another CA is refused before MQTT', async (t) => {
    t.same(await attempt(port, server.certPem, foreignCa()(device.id), { clientId: device.id }), CLOSED)
    await hub.audit.flush()
    const denied = await hub.database.rows<{ detail: string }>(sql`select detail from audit_log where action = 'mqtt.connect'`)
    t.ok(denied.some((d) => d.detail.includes('certificate-untrusted')), 'recorded as an untrusted certificate')
  })

  t.test('an expired certificate of the device CA is refused', async (t) => {
    const ca = await loadDeviceCa((key, create) => new UserRepository(hub.database).setting(key, create))
    const old = ecKeys()
    const expired = ca.issue({ deviceId: device.id, publicKey: old.publicKey, validity: { notBefore: new Date(Date.now() - 800 * DAY), notAfter: new Date(Date.now() - DAY) } })
    const current = ca.issue({ deviceId: device.id, publicKey: old.publicKey })
    // Both rows stored, so only the validity tells them apart.
    const tenantId = await tenantOf(device.id)
    for (const c of [expired, current]) await hub.database.db.insert(deviceCertificates).values({ serial: c.serial, deviceId: device.id, tenantId, fingerprint: c.fingerprint, keyType: 'ec-p256', der: c.der, notAfter: c.notAfter })
    t.same(await attempt(port, server.certPem, { key: keyPem(old.privateKey), cert: expired.pem }, { clientId: device.id }), CLOSED)
    t.same(await attempt(port, server.certPem, { key: keyPem(old.privateKey), cert: current.pem }, { clientId: device.id }), { connack: 0 }, 'the same key in a valid certificate')
  })

  t.test('passwords still work on TLS', async (t) => {
    t.same(await attempt(port, server.certPem, {}, credentials), { connack: 0 })
    t.same(await attempt(port, server.certPem, {}, { ...credentials, password: 'wrong' }), { connack: 4 })
    t.same(await attempt(port, server.certPem, {}, { clientId: device.id }), { connack: 5 }, 'no certificate and no password')
  })

  t.test('a disabled or deleted device\'s certificate is refused', async (t) => {
    const { device: d } = await hub.createDevice(token)
    const k = ecKeys()
    const c = await issue(d.id, { csr: ecCsr(k, 'x') })
    const creds = { key: keyPem(k.privateKey), cert: c.body.certificate }
    t.same(await attempt(port, server.certPem, creds, { clientId: d.id }), { connack: 0 })
    t.equal((await hub.api(token, 'PATCH', `/api/devices/${d.id}`, { disabled: true })).status, 200)
    t.same(await attempt(port, server.certPem, creds, { clientId: d.id }), { connack: 5 }, 'disabled')
    t.equal((await hub.api(token, 'PATCH', `/api/devices/${d.id}`, { disabled: false })).status, 200)
    t.same(await attempt(port, server.certPem, creds, { clientId: d.id }), { connack: 0 }, 'enabled again')
    t.equal((await hub.api(token, 'DELETE', `/api/devices/${d.id}`)).status, 204)
    t.same(await attempt(port, server.certPem, creds, { clientId: d.id }), { connack: 5 }, 'deleted')
  })

  t.test('revocation: the next handshake is refused, the open connection ends', async (t) => {
    const second = ecKeys()
    const kept = await issue(device.id, { csr: ecCsr(second, 'x') })
    const keptCreds = { key: keyPem(second.privateKey), cert: kept.body.certificate }
    const open = await mqttTls(t, port, { ...mine, ca: server.certPem, clientId: device.id })
    const ended = new Promise<void>((resolve) => open.once('close', () => resolve()))
    const res = await hub.api(token, 'DELETE', `/api/devices/${device.id}/certificate?serial=${issued.body.serial.toUpperCase()}`)
    t.same(res.body, { revoked: [issued.body.serial] })
    await ended
    t.pass('the connection made with it is closed')
    t.same(await attempt(port, server.certPem, mine, { clientId: device.id }), CLOSED, 'revoked')
    t.same(await attempt(port, server.certPem, keptCreds, { clientId: device.id }), { connack: 0 }, 'the device\'s other certificate still works')
    const all = await hub.api(token, 'DELETE', `/api/devices/${device.id}/certificate`)
    t.ok(all.body.revoked.includes(kept.body.serial))
    t.same(await attempt(port, server.certPem, keptCreds, { clientId: device.id }), CLOSED, 'all revoked')
    const listed = (await hub.api(token, 'GET', `/api/devices/${device.id}/certificate`)).body.items
    t.ok(listed.every((c: { serial: string, revokedAt: string | null }) => c.revokedAt !== null || ![issued.body.serial, kept.body.serial].includes(c.serial)))
  })

  t.test('plain TCP to the TLS port is closed, and the hub goes on', async (t) => {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: credentials.clientId, username: credentials.username, password: Buffer.from(credentials.password) }))
    await new Promise((resolve) => socket.once('close', resolve))
    const wrong = tlsConnect({ host: '127.0.0.1', port: hub.mqttPort, ca: server.certPem })
    wrong.on('error', () => {})
    await new Promise((resolve) => wrong.once('close', resolve))
    t.same(await attempt(port, server.certPem, {}, credentials), { connack: 0 }, 'TLS still served')
  })
})

t.test('PKCS#12 bundles made by the hub', async (t) => {
  for (const keyType of ['ec-p256', 'rsa-2048'] as const) {
    t.test(keyType, async (t) => {
      const { device } = await hub.createDevice(token)
      const res = await hub.api(token, 'POST', `/api/devices/${device.id}/certificate`, keyType === 'ec-p256' ? { format: 'pkcs12' } : { format: 'pkcs12', keyType })
      t.equal(res.status, 201, res.body?.error?.message ?? 'issued')
      t.equal(res.body.keyType, keyType)
      const p12 = forge.asn1.fromDer(Buffer.from(res.body.pkcs12, 'base64').toString('binary'))
      t.throws(() => forge.pkcs12.pkcs12FromAsn1(p12, 'not the password'), 'the password protects it')
      const bundle = forge.pkcs12.pkcs12FromAsn1(p12, res.body.password)
      const keyBag = bundle.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag]?.[0]
      const certBag = bundle.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag]?.[0]
      // forge reads RSA keys itself; for an EC key it hands back the decrypted PrivateKeyInfo.
      const keyDer = keyBag?.key != null ? forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key))).getBytes() : forge.asn1.toDer(keyBag!.asn1!).getBytes()
      const key = createPrivateKey({ key: Buffer.from(keyDer, 'binary'), format: 'der', type: 'pkcs8' })
      const certDer = certBag?.cert != null ? forge.asn1.toDer(forge.pki.certificateToAsn1(certBag.cert)).getBytes() : forge.asn1.toDer(certBag!.asn1!).getBytes()
      const cert = new X509Certificate(Buffer.from(certDer, 'binary'))
      t.equal(cert.subject, `CN=${device.id}`)
      t.equal(cert.fingerprint256, new X509Certificate(res.body.certificate).fingerprint256, 'the certificate in the answer')
      t.ok(cert.checkPrivateKey(key), 'key and certificate belong together')
      t.equal(key.asymmetricKeyType, keyType === 'ec-p256' ? 'ec' : 'rsa')
      t.same(await attempt(port, server.certPem, { key: keyPem(key), cert: cert.toString() }, { clientId: device.id }), { connack: 0 }, 'connects with what forge read')
      t.same(await attempt(port, server.certPem, { pfx: Buffer.from(res.body.pkcs12, 'base64'), passphrase: res.body.password }, { clientId: device.id }), { connack: 0 }, 'connects with the bundle as OpenSSL reads it')
      const [row] = await hub.database.db.select().from(deviceCertificates).where(eq(deviceCertificates.serial, res.body.serial))
      t.equal(row?.keyType, keyType, 'the certificate is stored')
      t.notOk(JSON.stringify((await hub.api(token, 'GET', `/api/devices/${device.id}/certificate`)).body).includes(res.body.password), 'the password is not shown again')
    })
  }
})

t.test('revocation reaches every process', { skip: process.env.DATABASE_URL === undefined || process.env.REDIS_URL === undefined ? 'needs DATABASE_URL and REDIS_URL' : false }, async (t) => {
  const peer = await startTestHub(t, { env: { ...tlsEnv, DATABASE_URL: databaseUrl } })
  const peerPort = peer.mqttsPort as number
  const { device } = await hub.createDevice(token)
  const keys = ecKeys()
  const issued = await issue(device.id, { csr: ecCsr(keys, 'x') })
  const creds = { key: keyPem(keys.privateKey), cert: issued.body.certificate }
  t.same(await attempt(peerPort, server.certPem, creds, { clientId: device.id }), { connack: 0 }, 'the other process accepts it')
  t.same((await hub.api(token, 'DELETE', `/api/devices/${device.id}/certificate`)).body, { revoked: [issued.body.serial] })
  // The other process learns it from the bus (Redis pub/sub): wait for the event to arrive there.
  let result: Attempt = { connack: 0 }
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && !('closed' in result);) {
    result = await attempt(peerPort, server.certPem, creds, { clientId: device.id })
    if (!('closed' in result)) t.equal(result.connack, 5, 'refused at CONNECT by the table meanwhile')
  }
  t.same(result, CLOSED, 'the other process refuses the handshake')
})

function opensslMissing (): string | false {
  try {
    execFileSync('openssl', ['version'])
    return false
  } catch {
    return 'openssl is not installed'
  }
}
