import t from 'tap'
import { sql } from 'drizzle-orm'
import { createTestPki } from '../../esim/test-pki.ts'
import { euiccOf, notificationMessage, toPem, trustDir } from '../helpers/euicc-fixtures.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { topics } from '../../protocol/topics.ts'
import { eventually } from '../helpers/eventually.ts'
import { SimulatedDevice } from '../helpers/simulated-device.ts'
import { command, defaultProfiles, ICCID_A, ICCID_B, lpaDevice, waitCommand } from './helpers.ts'

t.test('LPA commands: each operation round trip, effects on the inventory, SSE and audit', async (t) => {
  const hub = await startTestHub(t, { commands: { sweepMs: 100 } })
  const token = await hub.login()
  const device = await lpaDevice(hub, token)
  t.teardown(() => device.disconnect())
  const ticket = (await hub.api(token, 'POST', '/api/events/ticket')).body.ticket
  const sse = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
  t.teardown(() => sse.close())

  const list = await command(hub, token, device.id, { op: 'listProfiles' })
  t.equal(list.status, 'queued')
  t.match(list, { op: 'listProfiles', requestedBy: /^user:/, deviceId: device.id })
  const listed = await waitCommand(hub, token, list.id)
  t.equal(listed.status, 'succeeded')
  t.ok(listed.sentAt !== null && listed.finishedAt !== null)
  t.match(listed.result, { status: 'ok', data: { profiles: [{ iccid: ICCID_A }, { iccid: ICCID_B }] } }, 'the device answer is kept')
  let profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.match(profiles, [{ iccid: ICCID_A, reportedState: 'enabled' }, { iccid: ICCID_B, reportedState: 'disabled' }], 'listProfiles reconciles the inventory')

  for (const [op, iccid, expected] of [['disable', ICCID_A, 'disabled'], ['enable', ICCID_B, 'enabled']] as const) {
    const c = await command(hub, token, device.id, { op, iccid })
    const done = await waitCommand(hub, token, c.id)
    t.equal(done.status, 'succeeded', `${op} succeeded`)
    profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
    const p = profiles.find((x: any) => x.iccid === iccid)
    t.equal(p.state, expected, `${op} applied at once`)
    t.equal(p.cause, `command: ${op} ${c.id}`)
  }
  t.equal(profiles.find((x: any) => x.iccid === ICCID_A).state, 'disabled')

  const fallback = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'setFallback', iccid: ICCID_A })).id)
  t.equal(fallback.status, 'succeeded')
  t.same(device.profiles.find((p) => p.iccid === ICCID_A)?.fallback, true)
  t.equal((await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'unsetFallback' })).id)).status, 'succeeded')

  const del = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'delete', iccid: ICCID_A })).id)
  t.equal(del.status, 'succeeded')
  profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.notOk(profiles.some((x: any) => x.iccid === ICCID_A), 'a deleted profile leaves the inventory')
  const withDeleted = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles?includeDeleted=true`)).body.items
  t.equal(withDeleted.find((x: any) => x.iccid === ICCID_A).state, 'deleted', 'and stays in its history')

  const download = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'download', activationCode: 'LPA:1$smdp.example.test$MATCH-1234' })).id)
  t.equal(download.status, 'succeeded')
  profiles = (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items
  t.ok(profiles.some((p: any) => p.iccid === (download.result as { data: { iccid: string } }).data.iccid && p.state === 'disabled'), 'the downloaded profile is in the inventory, disabled')

  const failing = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'enable', iccid: '8995050000000000995' })).id)
  t.equal(failing.status, 'failed')
  t.same(failing.error, { code: 'iccid-not-found', message: 'no profile 8995050000000000995 on this eUICC' }, 'the device\'s code and message')

  const events = await sse.next((e) => e.event === 'command.updated' && e.data.id === list.id && e.data.status === 'succeeded')
  t.equal(events.data.op, 'listProfiles')
  t.ok(sse.events.some((e) => e.event === 'command.updated' && e.data.id === list.id && e.data.status === 'sent'))

  const history = (await hub.api(token, 'GET', `/api/devices/${device.id}/commands?limit=3`)).body
  t.equal(history.items.length, 3)
  t.equal(history.items[0].id, failing.id, 'newest first')
  const rest = (await hub.api(token, 'GET', `/api/devices/${device.id}/commands?cursor=${history.nextCursor as string}`)).body
  t.equal(rest.items.length, 5)

  await hub.audit.flush()
  const audited = await hub.database.rows<{ action: string, actor_id: string, actor_type: string }>(sql`select action, actor_id, actor_type from audit_log where target = ${list.id} order by id`)
  t.same(audited.map((a) => a.action), ['command.create', 'command.succeeded'])
  t.equal(audited[0].actor_type, 'user')
  t.equal(audited[1].actor_type, 'device')

  const metrics = await (await fetch(hub.httpUrl + '/metrics')).text()
  t.match(metrics, /hub_commands_total\{op="listProfiles",status="succeeded",code=""\} 1/)
  t.match(metrics, /hub_commands_total\{op="enable",status="failed",code="iccid-not-found"\} 1/)
})

t.test('validation, activation codes and QR images, roles', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const device = await lpaDevice(hub, token, { connect: false })
  const bad = async (body: Record<string, unknown>, code: string) => {
    const res = await hub.api(token, 'POST', `/api/devices/${device.id}/commands`, body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.equal(res.body.error.code, code)
  }
  await bad({ op: 'enable' }, 'HUB_ERR_INVALID_COMMAND')
  await bad({ op: 'reboot' }, 'HUB_ERR_VALIDATION')
  await bad({ op: 'download' }, 'HUB_ERR_INVALID_COMMAND')
  await bad({ op: 'download', activationCode: 'LPA:2$smdp.example.test$X' }, 'HUB_ERR_INVALID_ACTIVATION_CODE')
  await bad({ op: 'download', activationCode: 'LPA:1$not a host$X' }, 'HUB_ERR_INVALID_ACTIVATION_CODE')
  await bad({ op: 'download', activationCode: 'LPA:1$smdp.example.test$X$1.3.6.1.4.1.31746$2' }, 'HUB_ERR_INVALID_ACTIVATION_CODE')
  await bad({ op: 'enable', iccid: '1234' }, 'HUB_ERR_VALIDATION')
  t.equal((await hub.api(token, 'POST', '/api/devices/nope/commands', { op: 'listProfiles' })).status, 404)
  t.equal((await hub.api(token, 'GET', '/api/commands/00000000-0000-0000-0000-000000000000')).status, 404)
  t.equal((await hub.api(token, 'GET', '/api/commands/not-a-uuid')).status, 404)
  t.equal((await command(hub, token, device.id, { op: 'download', activationCode: 'LPA:1$smdp.example.test$X$1.3.6.1.4.1.31746$1' })).status, 'queued')

  const qr = await fetch(`${hub.httpUrl}/api/activation-codes/qr?code=${encodeURIComponent('LPA:1$smdp.example.test$MATCH-1')}`, { headers: { authorization: 'Bearer ' + token } })
  t.equal(qr.status, 200)
  t.equal(qr.headers.get('content-type'), 'image/png')
  t.same([...new Uint8Array(await qr.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47])
  const svg = await fetch(`${hub.httpUrl}/api/activation-codes/qr?format=svg&code=${encodeURIComponent('LPA:1$smdp.example.test$MATCH-1')}`, { headers: { authorization: 'Bearer ' + token } })
  t.match(await svg.text(), /<svg/)
  t.equal((await hub.api(token, 'GET', `/api/activation-codes/qr?code=${encodeURIComponent('LPA:1$x$y')}`)).status, 400)
  t.equal((await hub.api('', 'GET', '/api/eim')).status, 401)

  const eim = (await hub.api(token, 'GET', '/api/eim')).body
  t.match(eim, { eimId: /^euicc-hub\./, publicKey: /BEGIN PUBLIC KEY/ })

  const viewer = { email: 'viewer@example.test', password: 'another correct horse battery' }
  t.equal((await hub.api(token, 'POST', '/api/users', { ...viewer, role: 'viewer' })).status, 201)
  const viewerToken = (await hub.api('', 'POST', '/api/auth/login', viewer)).body.accessToken as string
  t.equal((await hub.api(viewerToken, 'POST', `/api/devices/${device.id}/commands`, { op: 'listProfiles' })).status, 403)
  t.equal((await hub.api(viewerToken, 'GET', `/api/devices/${device.id}/commands`)).status, 200)
})

t.test('offline delivery, one operation at a time, expiry and cancel', async (t) => {
  const hub = await startTestHub(t, { commands: { sweepMs: 100 } })
  const token = await hub.login()
  const device = await lpaDevice(hub, token, { connect: false, behaviour: (c) => c.op === 'disable' ? 'hold' : 'run' })
  t.teardown(() => device.disconnect())

  const first = await command(hub, token, device.id, { op: 'disable', iccid: ICCID_A })
  const second = await command(hub, token, device.id, { op: 'enable', iccid: ICCID_B })
  const third = await command(hub, token, device.id, { op: 'listProfiles' })
  const doomed = await command(hub, token, device.id, { op: 'listProfiles', ttlSeconds: 1 })

  const cancelled = await hub.api(token, 'POST', `/api/commands/${third.id}/cancel`)
  t.equal(cancelled.status, 200)
  t.equal(cancelled.body.status, 'cancelled')
  t.equal((await hub.api(token, 'POST', `/api/commands/${third.id}/cancel`)).status, 409)

  t.equal((await waitCommand(hub, token, doomed.id)).status, 'expired', 'a queued command expires after its TTL')
  // A second (the TTL) in which the hub had every chance to send it: it did not.
  t.equal((await hub.api(token, 'GET', `/api/commands/${first.id}`)).body.status, 'queued', 'an offline device\'s command waits')

  await device.connect()
  await device.waitForCommand((c) => c.message.id === first.id)
  t.equal((await waitCommand(hub, token, first.id, ['sent'])).status, 'sent')
  // A delivery that does not happen announces nothing; what the hub publishes to the device later comes
  // after it on the same connection: a notification's acknowledgement (sent after the hub's commit).
  const probe = device.euicc.notify('enable', ICCID_B)
  await device.publish(topics.notifications(device.id), notificationMessage(Buffer.from(probe.der)))
  await eventually('the hub\'s answer to a notification sent after the first command', () => !device.euicc.pending.includes(probe))
  t.notOk(device.received.some((c) => c.message.id === second.id), 'the next operation waits for the one in flight')
  const refused = await hub.api(token, 'POST', `/api/commands/${first.id}/cancel`)
  t.equal(refused.status, 409, 'a sent command cannot be cancelled')
  t.equal(refused.body.error.code, 'HUB_ERR_COMMAND_NOT_CANCELLABLE')

  await device.release(first.id)
  t.equal((await waitCommand(hub, token, first.id)).status, 'succeeded')
  t.equal((await waitCommand(hub, token, second.id)).status, 'succeeded', 'then the next one goes')
  t.notOk(device.received.some((c) => c.message.id === third.id || c.message.id === doomed.id), 'cancelled and expired commands are never delivered')

  // A sent command that gets no answer expires too, and frees the device for the next one.
  const silent = await command(hub, token, device.id, { op: 'disable', iccid: ICCID_B, ttlSeconds: 1 })
  const after = await command(hub, token, device.id, { op: 'listProfiles' })
  await device.waitForCommand((c) => c.message.id === silent.id)
  const expired = await waitCommand(hub, token, silent.id)
  t.equal(expired.status, 'expired')
  t.equal(expired.error?.code, 'expired')
  t.equal((await waitCommand(hub, token, after.id)).status, 'succeeded')
  // Its late answer (the device ran it before its clock said expired) is recorded but does not revive it.
  await device.answer(silent.id, { status: 'ok' })
  const late = await eventually('the late answer recorded', async () => {
    const c = (await hub.api(token, 'GET', `/api/commands/${silent.id}`)).body
    return c.result !== null && c
  })
  t.equal(late.status, 'expired')
  t.match(late.result, { status: 'ok' })

  // Results that cannot be used are quarantined with the reason (and acknowledged).
  await device.answer('00000000-0000-4000-8000-000000000000', { status: 'ok' })
  await device.answer(after.id, { status: 'maybe' })
  await device.publish(topics.commandResult(device.id, after.id), 'not json')
  const quarantined = await hub.database.rows<{ reason: string }>(sql`select reason from quarantine where device_id = ${device.id} order by id`)
  t.same(quarantined.map((q) => q.reason), ['unknown-command', 'invalid-result', 'invalid-json'])
  t.equal((await hub.api(token, 'GET', `/api/commands/${after.id}`)).body.status, 'succeeded', 'a later answer does not change an ended command')
})

t.test('notifications after a command confirm its effect, or show the conflict', async (t) => {
  const pki = createTestPki()
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [pki.ci.certificateDer]) } })
  const token = await hub.login()
  const { credentials } = await hub.createDevice(token, { euiccCertificate: toPem(pki.euicc.certificateDer), eumCertificate: toPem(pki.eum.certificateDer) })
  // The simulator's eUICC is this PKI's; its own notifications carry a broken signature (a fault), so
  // only the ones this test signs move the inventory.
  const device = new SimulatedDevice({
    mqttUrl: hub.mqttUrl,
    credentials,
    eid: pki.eid,
    euicc: { privateKey: pki.euicc.privateKey, certificateDer: pki.euicc.certificateDer, eumCertificateDer: pki.eum.certificateDer },
    profiles: defaultProfiles(),
    faults: { 'bad-signature': 1 }
  })
  await device.connect()
  t.teardown(() => device.disconnect())
  const euicc = euiccOf(pki)
  const notify = async (seq: number, op: 'enable' | 'disable') => {
    await device.publish(topics.notifications(device.id), notificationMessage(euicc.notification(seq, op, ICCID_A)))
  }
  const profileA = async () => (await hub.api(token, 'GET', `/api/devices/${device.id}/profiles`)).body.items.find((p: any) => p.iccid === ICCID_A)

  const disable = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'disable', iccid: ICCID_A })).id)
  t.match(await profileA(), { state: 'disabled', cause: `command: disable ${disable.id}`, conflict: null })
  await notify(1, 'disable')
  t.match(await profileA(), { state: 'disabled', seqNumber: 1, conflict: null }, 'the notification confirms the command')

  const enable = await waitCommand(hub, token, (await command(hub, token, device.id, { op: 'enable', iccid: ICCID_A })).id)
  t.match(await profileA(), { state: 'enabled', cause: `command: enable ${enable.id}` })
  await notify(2, 'disable')
  const conflicted = await profileA()
  t.equal(conflicted.state, 'disabled', 'the eUICC\'s signed word wins')
  t.match(conflicted.conflict, `command: enable ${enable.id} said enabled, notifications say disabled`)
})
