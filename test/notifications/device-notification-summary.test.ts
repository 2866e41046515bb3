// The device view carries each device's newest notification and its accepted/rejected counts.
import t from 'tap'
import mqtt, { type MqttClient } from 'mqtt'
import { createTestPki } from '../../esim/test-pki.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { euiccOf, notificationMessage, sendNotification, trustDir } from '../helpers/euicc-fixtures.ts'
import { startTestHub } from '../helpers/test-hub.ts'

/** Publishes a signed notification and resolves with the hub's ack. */
const send = (client: MqttClient, deviceId: string, der: Buffer) => sendNotification(client, deviceId, notificationMessage(der))

t.test('GET /api/devices and /api/devices/:id carry lastNotification and notificationCounts', async (t) => {
  const pki = createTestPki()
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [pki.ci.certificateDer]) } })
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token, { eid: pki.eid })
  const quiet = await hub.createDevice(token)
  const euicc = euiccOf(pki)
  const iccid = iccidForPrefix('899501', 1)
  const get = async (id: string) => (await hub.api(token, 'GET', `/api/devices/${id}`)).body

  t.same(device.lastNotification, null, 'a new device has no notification')
  t.same(device.notificationCounts, { accepted: 0, rejected: 0 })

  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  await client.subscribeAsync(`devices/${device.id}/notifications/ack`, { qos: 1 })

  t.same(await send(client, device.id, euicc.notification(1, 'install', iccid)), { seqNumber: 1, status: 'accepted' })
  t.same(await send(client, device.id, euicc.notification(2, 'enable', iccid)), { seqNumber: 2, status: 'accepted' })
  let view = await get(device.id)
  t.match(view.lastNotification, { seqNumber: 2, operation: 'enable', status: 'accepted', reason: null }, 'the newest accepted one')
  t.ok(Math.abs(Date.parse(view.lastNotification.receivedAt) - Date.now()) < 60_000, 'with the time it was received')
  t.same(view.notificationCounts, { accepted: 2, rejected: 0 })

  t.same(await send(client, device.id, euicc.notification(2, 'enable', iccid)), { seqNumber: 2, status: 'duplicate' })
  t.same((await get(device.id)).notificationCounts, { accepted: 2, rejected: 0 }, 'a duplicate counts for nothing')

  const badSignature = euicc.notification(3, 'disable', iccid)
  badSignature[badSignature.indexOf(Buffer.from([0x5f, 0x37, 0x40])) + 10] ^= 0xff
  t.same(await send(client, device.id, badSignature), { seqNumber: 3, status: 'rejected', reason: 'bad-signature' })
  view = await get(device.id)
  t.match(view.lastNotification, { seqNumber: 3, operation: 'disable', status: 'rejected', reason: 'bad-signature' }, 'a rejection is the newest one')
  t.same(view.notificationCounts, { accepted: 2, rejected: 1 }, 'and is counted apart')

  const list = await hub.api(token, 'GET', '/api/devices?limit=10')
  const byId = new Map<string, { lastNotification: unknown, notificationCounts: unknown }>(list.body.items.map((d: { id: string }) => [d.id, d]))
  t.same(byId.get(device.id)?.notificationCounts, { accepted: 2, rejected: 1 }, 'the list carries the same summary')
  t.match(byId.get(device.id)?.lastNotification, { seqNumber: 3, status: 'rejected' })
  t.same(byId.get(quiet.device.id), { ...byId.get(quiet.device.id), lastNotification: null, notificationCounts: { accepted: 0, rejected: 0 } }, 'a device without notifications has none')
})
