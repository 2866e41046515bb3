import { sql } from 'drizzle-orm'
import type mqttPacket from 'mqtt-packet'
import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { connectPacket, RawMqtt } from '../helpers/raw-mqtt.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

// DESIGN.md "Session semantics a device's firmware relies on"; RELIABILITY.md G 48–53.

type Publish = mqttPacket.IPublishPacket

async function deviceOf (hub: TestHub, token: string): Promise<{ id: string, secret: string }> {
  const { device, credentials } = await hub.createDevice(token)
  return { id: device.id, secret: credentials.password }
}

async function session (hub: TestHub, device: { id: string, secret: string }, clean: boolean): Promise<{ raw: RawMqtt, connack: mqttPacket.IConnackPacket }> {
  const raw = await RawMqtt.open(hub.mqttPort)
  raw.send(connectPacket({ clientId: device.id, username: device.id, password: Buffer.from(device.secret), clean }))
  const connack = await raw.next('connack') as mqttPacket.IConnackPacket
  if (connack.returnCode !== 0) throw new Error(`CONNACK ${connack.returnCode}`)
  return { raw, connack }
}

let messageId = 1
async function subscribe (raw: RawMqtt, subscriptions: Array<{ topic: string, qos: number }>): Promise<number[]> {
  const id = messageId++
  raw.send({ cmd: 'subscribe', messageId: id, subscriptions })
  const suback = await eventually(`SUBACK ${id}`, () => raw.packets.find((p) => p.cmd === 'suback' && p.messageId === id) as mqttPacket.ISubackPacket | undefined)
  return suback.granted as number[]
}

const commandsOf = (raw: RawMqtt, commandId: string): Publish[] =>
  raw.packets.filter((p): p is Publish => p.cmd === 'publish' && (p as Publish).topic.endsWith(`/commands/${commandId}`))

async function queue (hub: TestHub, token: string, deviceId: string): Promise<string> {
  const res = await hub.api(token, 'POST', `/api/devices/${deviceId}/commands`, { op: 'listProfiles' })
  if (res.status !== 202) throw new Error(JSON.stringify(res.body))
  return res.body.id
}

async function answer (raw: RawMqtt, deviceId: string, commandId: string, payload: string | Buffer): Promise<void> {
  const id = messageId++
  raw.send({ cmd: 'publish', topic: `devices/${deviceId}/commands/${commandId}/result`, qos: 1, messageId: id, payload })
  await eventually(`PUBACK ${id}`, () => raw.packets.some((p) => p.cmd === 'puback' && p.messageId === id))
}

const status = async (hub: TestHub, token: string, commandId: string): Promise<any> => (await hub.api(token, 'GET', `/api/commands/${commandId}`)).body

for (const clean of [false, true]) {
  t.test(`a command is delivered once per connection (clean=${clean ? 1 : 0}), however often the device subscribes`, async (t) => {
    const hub = await startTestHub(t)
    const token = await hub.login()
    const device = await deviceOf(hub, token)
    const first = await queue(hub, token, device.id)
    const second = await queue(hub, token, device.id)
    const commands = `devices/${device.id}/commands/#`

    const one = await session(hub, device, clean)
    t.same(await subscribe(one.raw, [{ topic: commands, qos: 1 }]), [1])
    await eventually('the first command', () => commandsOf(one.raw, first).length > 0)
    // Most SDKs subscribe again on every (re)connect, and some on a timer.
    await subscribe(one.raw, [{ topic: commands, qos: 1 }])
    await subscribe(one.raw, [{ topic: commands, qos: 1 }])
    one.raw.close() // dropped with the command in flight, never acknowledged
    await one.raw.closed

    const two = await session(hub, device, clean)
    t.equal(two.connack.sessionPresent, !clean, 'session-present follows the clean flag')
    await subscribe(two.raw, [{ topic: commands, qos: 1 }])
    await eventually('the redelivery', () => commandsOf(two.raw, first).length > 0)
    await subscribe(two.raw, [{ topic: commands, qos: 1 }])
    await answer(two.raw, device.id, first, JSON.stringify({ status: 'ok', data: { profiles: [] } }))
    // The second command goes out only after the first ended; every earlier delivery attempt of the
    // device ran before it (one delivery pump per device), so a duplicate would be here by now.
    await eventually('the second command', () => commandsOf(two.raw, second).length > 0)

    const onOne = commandsOf(one.raw, first)
    const onTwo = commandsOf(two.raw, first)
    t.equal(onOne.length, 1, 'delivered once on the first connection')
    t.equal(onOne[0].dup, false, 'the first delivery is not a duplicate')
    t.equal(onTwo.length, 1, 'delivered once on the second connection')
    t.equal(onTwo[0].dup, true, 'the redelivery after a reconnect carries DUP=1')
    t.equal(commandsOf(two.raw, second).length, 1)
    t.equal((await status(hub, token, first)).status, 'succeeded')
    two.raw.close()
  })
}

t.test('subscriptions: the limit counts what a device holds; QoS capped at 1; one return code per filter; session present on resume', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const device = await deviceOf(hub, token)
  const { raw } = await session(hub, device, false)
  const commands = `devices/${device.id}/commands/#`
  const acks = `devices/${device.id}/notifications/ack`

  // RELIABILITY 49: 1,000 SUBSCRIBE/UNSUBSCRIBE rounds on one connection, every SUBACK grants.
  const rounds = 1000
  const first = messageId
  for (let i = 0; i < rounds; i++) {
    raw.send({ cmd: 'subscribe', messageId: messageId++, subscriptions: [{ topic: commands, qos: 1 }] })
    raw.send({ cmd: 'unsubscribe', messageId: messageId++, unsubscriptions: [commands] })
  }
  // With REDIS_URL every (un)subscription is a few Redis round trips (the session store, shared with
  // other processes): on a loaded machine that takes a while, so the wait lasts while SUBACKs come in.
  const subacksOf = () => raw.packets.filter((p) => p.cmd === 'suback' && (p.messageId as number) >= first) as mqttPacket.ISubackPacket[]
  const subacks = await eventually('every SUBACK', () => {
    const got = subacksOf()
    return got.length === rounds ? got : undefined
  }, { timeoutMs: 60_000, progress: () => subacksOf().length })
  t.equal(subacks.filter((s) => s.granted[0] === 1).length, rounds, 'all 1,000 subscriptions granted')

  // RELIABILITY 50: QoS 2 is granted QoS 1; a repeated filter gets one return code per filter.
  t.same(await subscribe(raw, [{ topic: commands, qos: 2 }]), [1], 'QoS 2 on commands/# is granted QoS 1')
  t.same(await subscribe(raw, [{ topic: commands, qos: 1 }, { topic: acks, qos: 0 }, { topic: commands, qos: 2 }, { topic: '#', qos: 0 }]), [1, 0, 1, 0x80],
    'one return code per filter, repeated ones included')
  raw.close()
  await raw.closed

  // A persistent session whose every subscription was refused is still a session.
  const other = await deviceOf(hub, token)
  const refused = await session(hub, other, false)
  t.same(await subscribe(refused.raw, [{ topic: 'devices/+/telemetry', qos: 1 }]), [0x80])
  t.equal(refused.connack.sessionPresent, false, 'a new session is not present')
  refused.raw.close()
  await refused.raw.closed
  const resumed = await session(hub, other, false)
  t.equal(resumed.connack.sessionPresent, true, 'resuming clean=0 answers session-present=1')
  resumed.raw.close()
  await resumed.raw.closed
  const fresh = await session(hub, other, true)
  t.equal(fresh.connack.sessionPresent, false, 'a clean session ends it')
  fresh.raw.close()
})

t.test('a device never receives its own publishes back', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const device = await deviceOf(hub, token)
  const { raw } = await session(hub, device, true)
  await subscribe(raw, [{ topic: `devices/${device.id}/commands/#`, qos: 1 }, { topic: `devices/${device.id}/notifications/ack`, qos: 1 }])
  const unknown = '00000000-0000-4000-8000-000000000000'
  await answer(raw, device.id, unknown, JSON.stringify({ status: 'ok' }))
  const later = await queue(hub, token, device.id)
  await eventually('the command queued afterwards', () => commandsOf(raw, later).length > 0)
  const echoed = raw.packets.filter((p) => p.cmd === 'publish' && (p as Publish).topic.endsWith('/result'))
  t.equal(echoed.length, 0, 'its commands/{id}/result publish is not forwarded to it')
  raw.close()
})

t.test('a QoS 2 publish resent before PUBREL is handled once', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const device = await deviceOf(hub, token)
  const { raw } = await session(hub, device, false)
  const topic = `devices/${device.id}/telemetry`
  const ts = Date.now()
  const id = 77
  raw.send({ cmd: 'publish', topic, qos: 2, messageId: id, payload: JSON.stringify({ ts, seq: 1, rsrp: -90 }) })
  await eventually('PUBREC', () => raw.packets.some((p) => p.cmd === 'pubrec' && p.messageId === id))
  // The same id again with DUP, once with the same payload and once with another one (a new seq).
  raw.send({ cmd: 'publish', topic, qos: 2, messageId: id, dup: true, payload: JSON.stringify({ ts, seq: 1, rsrp: -90 }) })
  raw.send({ cmd: 'publish', topic, qos: 2, messageId: id, dup: true, payload: JSON.stringify({ ts, seq: 2, rsrp: -80 }) })
  await eventually('three PUBRECs', () => raw.packets.filter((p) => p.cmd === 'pubrec' && p.messageId === id).length === 3)
  raw.send({ cmd: 'pubrel', messageId: id })
  await eventually('PUBCOMP', () => raw.packets.some((p) => p.cmd === 'pubcomp' && p.messageId === id))
  // After PUBREL the id is free: a new message with it is a new message.
  raw.send({ cmd: 'publish', topic, qos: 2, messageId: id, payload: JSON.stringify({ ts, seq: 3, rsrp: -70 }) })
  await eventually('the fourth PUBREC', () => raw.packets.filter((p) => p.cmd === 'pubrec' && p.messageId === id).length === 4)
  const rows = await hub.database.rows<{ seq: number }>(sql`select seq from telemetry where device_id = ${device.id} order by seq`)
  t.same(rows.map((r) => Number(r.seq)), [1, 3], 'the resends were not handled; the message after PUBREL was')
  raw.close()
  await raw.closed

  // Across a resumed session: the resend comes on a new connection, before the PUBREL.
  const again = await session(hub, device, false)
  again.raw.send({ cmd: 'publish', topic, qos: 2, messageId: 9, payload: JSON.stringify({ ts, seq: 4, rsrp: -70 }) })
  await eventually('PUBREC', () => again.raw.packets.some((p) => p.cmd === 'pubrec' && p.messageId === 9))
  again.raw.close()
  await again.raw.closed
  const third = await session(hub, device, false)
  third.raw.send({ cmd: 'publish', topic, qos: 2, messageId: 9, dup: true, payload: JSON.stringify({ ts, seq: 5, rsrp: -70 }) })
  await eventually('PUBREC on the resumed session', () => third.raw.packets.some((p) => p.cmd === 'pubrec' && p.messageId === 9))
  third.raw.send({ cmd: 'pubrel', messageId: 9 })
  await eventually('PUBCOMP', () => third.raw.packets.some((p) => p.cmd === 'pubcomp' && p.messageId === 9))
  const after = await hub.database.rows<{ seq: number }>(sql`select seq from telemetry where device_id = ${device.id} order by seq`)
  t.same(after.map((r) => Number(r.seq)), [1, 3, 4], 'the resend on the resumed session was not handled again')
  third.raw.close()
})

t.test('unusable payloads are acknowledged and quarantined, never looped; a bad command result ends the command', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const device = await deviceOf(hub, token)
  const { raw } = await session(hub, device, true)
  await subscribe(raw, [{ topic: `devices/${device.id}/commands/#`, qos: 1 }])
  const deep = '['.repeat(5000) + ']'.repeat(5000)
  const bad: Array<[string, string | Buffer, string]> = [
    ['NUL in a string', '{"status":"ok","message":"a\\u0000b"}', 'nul-byte'],
    ['a lone surrogate', '{"status":"ok","message":"\\ud800"}', 'lone-surrogate'],
    ['5,000 nested arrays', `{"status":"ok","data":${deep}}`, 'too-deep'],
    ['invalid JSON', '{"status":', 'invalid-json'],
    ['over the topic limit', Buffer.alloc(200 * 1024, 0x20), 'payload-too-large']
  ]
  for (const [what, payload, reason] of bad) {
    const id = await queue(hub, token, device.id)
    await eventually(`the command for ${what}`, () => commandsOf(raw, id).length > 0)
    await answer(raw, device.id, id, payload) // acknowledged (the helper waits for the PUBACK)
    const ended = await eventually(`the command failed (${what})`, async () => { const c = await status(hub, token, id); return c.status === 'failed' ? c : undefined })
    t.equal(ended.error.code, 'invalid-result', `${what}: the command ends failed, invalid-result`)
    const [row] = await hub.database.rows<{ reason: string, topic: string, size_bytes: number, has_payload: boolean }>(
      sql`select reason, topic, size_bytes, payload is not null as has_payload from quarantine where device_id = ${device.id} order by id desc limit 1`)
    t.equal(row.reason, reason, `${what}: quarantined with its reason`)
    t.equal(row.topic, `devices/${device.id}/commands/${id}/result`)
    t.equal(Number(row.size_bytes), Buffer.byteLength(payload))
    t.equal(row.has_payload, reason !== 'payload-too-large', 'an oversized payload is not kept')
  }
  t.notOk(raw.socket.destroyed, 'the device was never disconnected')

  // Telemetry over its topic limit (64 KB) but under the frame cap: acknowledged and quarantined.
  const id = messageId++
  raw.send({ cmd: 'publish', topic: `devices/${device.id}/telemetry`, qos: 1, messageId: id, payload: Buffer.alloc(300 * 1024, 0x7b) })
  await eventually('PUBACK of the oversized telemetry', () => raw.packets.some((p) => p.cmd === 'puback' && p.messageId === id))
  const [big] = await hub.database.rows<{ reason: string, size_bytes: number }>(sql`select reason, size_bytes from quarantine where topic = ${`devices/${device.id}/telemetry`}`)
  t.equal(big.reason, 'payload-too-large')
  t.equal(Number(big.size_bytes), 300 * 1024)

  // Over the frame cap (1 MB by default): the connection closes.
  raw.send({ cmd: 'publish', topic: `devices/${device.id}/telemetry`, qos: 1, messageId: messageId++, payload: Buffer.alloc(1024 * 1024 + 10, 0x7b) })
  await raw.closed
  t.pass('a frame over the cap closes the connection')
})
