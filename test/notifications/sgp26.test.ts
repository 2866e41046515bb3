import t from 'tap'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import { nameAttribute, OID, readCertificateFields } from '../../esim/certificate-fields.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { encodeOtherSignedNotification } from '../../esim/notification-encoder.ts'
import { notificationMessage, SMDP, trustDir } from '../helpers/euicc-fixtures.ts'
import { startTestHub } from '../helpers/test-hub.ts'

const testdata = fileURLToPath(new URL('../../../shared/testdata/', import.meta.url))
const absent = existsSync(testdata) ? false : 'the shared test data (../shared/testdata) is absent in this clone'
const read = (path: string) => readFileSync(testdata + path)

t.test('the GSMA SGP.26 test PKI and the real capture, through the hub', { skip: absent }, async (t) => {
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [read('sgp26/ci/CERT_CI_ECDSA_NIST.der'), read('sgp26/ci/CERT_CI_ECDSA_BRP.der')]) } })
  const token = await hub.login()

  for (const curve of ['NIST', 'BRP']) {
    // The two curves' eUICC certificates carry the same test EID: it is registered to the NIST device, so
    // the BRP device (registered without an EID) is refused as the EID of another device.
    const { device, credentials } = await hub.createDevice(token, curve === 'NIST' ? { eid: '89049032123451234512345678901235' } : {})
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
    t.teardown(() => client.endAsync(true))
    await client.subscribeAsync(`devices/${device.id}/notifications/ack`, { qos: 1 })
    const der = Buffer.from(encodeOtherSignedNotification({
      seqNumber: curve === 'NIST' ? 1 : 2,
      operation: 'enable',
      iccid: iccidForPrefix('899501', 1),
      notificationAddress: SMDP,
      privateKey: createPrivateKey(read(`sgp26/euicc/SK_EUICC_ECDSA_${curve}.pem`)),
      euiccCertificateDer: read(`sgp26/euicc/CERT_EUICC_ECDSA_${curve}.der`),
      eumCertificateDer: read(`sgp26/eum/CERT_EUM_ECDSA_${curve}.der`)
    }))
    const ack = new Promise<{ status: string, reason?: string }>((resolve) => client.once('message', (_topic, m) => resolve(JSON.parse(m.toString()))))
    await client.publishAsync(`devices/${device.id}/notifications`, notificationMessage(der), { qos: 1 })
    const answer = await ack
    if (curve === 'NIST') t.same(answer, { seqNumber: 1, status: 'accepted' }, 'SGP.26 NIST notification accepted')
    else t.same([answer.status, answer.reason], ['rejected', 'eid-mismatch'], 'the BRP eUICC shares the EID registered to the NIST device')
  }

  // The real installation result: its signature verifies, but its EID is outside its EUM's range, so its
  // certificate is refused at registration (RELIABILITY 57) and the result verifies with nothing.
  const refused = await hub.api(token, 'POST', '/api/devices', {
    name: 'sysmocom test eUICC',
    euiccCertificate: read('sgp22-real/euicc-cert.pem').toString(),
    eumCertificate: read('sgp22-real/eum-cert.pem').toString()
  })
  t.equal(refused.status, 400)
  t.equal(refused.body.error.code, 'HUB_ERR_INVALID_EUICC_CERTIFICATE')
  t.match(refused.body.error.message, /eid-not-permitted/)
  const eid = nameAttribute(readCertificateFields(new X509Certificate(read('sgp22-real/euicc-cert.pem')).raw).subject, OID.serialNumber)
  const registered = await hub.api(token, 'POST', '/api/devices', { name: 'sysmocom test eUICC', eid })
  t.equal(registered.status, 201)
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...registered.body.credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  await client.subscribeAsync(`devices/${registered.body.device.id as string}/notifications/ack`, { qos: 1 })
  const ack = new Promise<{ status: string, reason?: string, seqNumber: number }>((resolve) => client.once('message', (_topic, m) => resolve(JSON.parse(m.toString()))))
  await client.publishAsync(`devices/${registered.body.device.id as string}/notifications`, notificationMessage(read('sgp22-real/pir-sysmo-euicc.der')), { qos: 1 })
  t.same(await ack, { seqNumber: 2, status: 'rejected', reason: 'unknown-euicc' })
})
