import t, { type Test } from 'tap'
import mqtt, { type MqttClient } from 'mqtt'
import { RawMqtt } from '../helpers/raw-mqtt.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

async function connect (t: Test, hub: TestHub, credentials: { clientId: string, username: string, password: string }): Promise<MqttClient> {
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0, connectTimeout: 5000 })
  t.teardown(() => client.endAsync(true))
  return client
}

/** Resolves with the CONNACK return code of a refused CONNECT. */
function refusedCode (hub: TestHub, options: mqtt.IClientOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(hub.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
    client.on('connect', () => { client.end(true); reject(new Error('connected')) })
    client.on('error', (err: Error & { code?: number }) => { client.end(true); resolve(err.code ?? -1) })
  })
}

/** CONNECT with an empty client id and clean session 0, which MQTT.js and mqtt-packet refuse to build. */
function emptyIdUncleanConnect (username: string, password: string): Buffer {
  const str = (value: string) => { const b = Buffer.from(value); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]) }
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 30]), str(''), str(username), str(password)])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

function closed (client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()))
}

t.test('device topic ACL', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const a = await hub.createDevice(token)
  const b = await hub.createDevice(token)
  const idA = a.device.id
  const idB = b.device.id

  t.test('a device may subscribe to its own commands and acks only', async (t) => {
    const client = await connect(t, hub, a.credentials)
    const suback = new Promise<number[]>((resolve) => client.on('packetreceive', (p) => { if (p.cmd === 'suback') resolve(p.granted as number[]) }))
    client.subscribe({
      [`devices/${idA}/commands/#`]: { qos: 1 },
      [`devices/${idA}/notifications/ack`]: { qos: 1 },
      '#': { qos: 0 },
      '+/#': { qos: 0 },
      'devices/+/telemetry': { qos: 0 },
      '$SYS/#': { qos: 0 },
      [`$share/g/devices/${idA}/commands/#`]: { qos: 0 },
      [`devices/${idB}/commands/#`]: { qos: 1 },
      [`devices/${idA}/telemetry`]: { qos: 0 }
    }, () => {})
    t.same(await suback, [1, 1, 128, 128, 128, 128, 128, 128, 128])
    t.ok(client.connected, 'refused subscriptions do not close the connection')
  })

  for (const [name, topic, retain] of [
    ['another device\'s telemetry', `devices/${idB}/telemetry`, false],
    ['$SYS', '$SYS/broker/x', false],
    ['a topic outside the contract', `devices/${idA}/other`, false],
    ['retained telemetry', `devices/${idA}/telemetry`, true]
  ] as const) {
    t.test(`a publish to ${name} closes the connection without PUBACK`, async (t) => {
      const client = await connect(t, hub, a.credentials)
      const pubacks: unknown[] = []
      client.on('packetreceive', (p) => { if (p.cmd === 'puback') pubacks.push(p) })
      const wasClosed = closed(client)
      client.publish(topic, JSON.stringify({ ts: Date.now(), seq: 1 }), { qos: 1, retain })
      await wasClosed
      t.same(pubacks, [])
    })
  }

  t.test('device B cannot take over device A\'s session', async (t) => {
    const clientA = await connect(t, hub, a.credentials)
    const code = await refusedCode(hub, { clientId: idA, username: idB, password: b.credentials.password })
    t.equal(code, 5, 'client id ≠ authenticated device id → not authorized')
    const wrong = await refusedCode(hub, { clientId: idA, username: idA, password: 'not-the-secret' })
    t.equal(wrong, 4, 'wrong secret → bad user name or password')
    const unknown = await refusedCode(hub, { clientId: 'no-such-device', username: 'no-such-device', password: 'x' })
    t.equal(unknown, 4, 'unknown device: same answer as a wrong secret')
    t.ok(clientA.connected, 'the online device stays connected')
    await clientA.publishAsync(`devices/${idA}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1 }), { qos: 1 })
  })

  t.test('client ids, usernames and Will topics are validated', async (t) => {
    const password = a.credentials.password
    t.equal(await refusedCode(hub, { clientId: 'a/b', username: 'a/b', password }), 2)
    t.equal(await refusedCode(hub, { clientId: 'a+b', username: 'a+b', password }), 2)
    t.equal(await refusedCode(hub, { clientId: 'bad\u0000id', username: 'bad\u0000id', password }), 2)
    t.equal(await refusedCode(hub, { clientId: '__proto__', username: '__proto__', password }), 2)
    const raw = await RawMqtt.open(hub.mqttPort)
    t.teardown(() => raw.close())
    raw.socket.write(emptyIdUncleanConnect(idA, password))
    t.equal((await raw.next('connack') as { returnCode: number }).returnCode, 2, 'empty client id with clean session 0 → identifier rejected')
    t.equal(await refusedCode(hub, { ...a.credentials, will: { topic: `devices/${idB}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } }), 5)
    const withWill = await connect(t, hub, { ...a.credentials, will: { topic: `devices/${idA}/status`, payload: Buffer.from('offline'), qos: 1, retain: true } } as never)
    t.ok(withWill.connected, 'a Will on its own status topic is accepted')
  })

  t.test('a device whose database is unreachable is refused, never let in', async (t) => {
    const other = await startTestHub(t)
    const otherToken = await other.login()
    const device = await other.createDevice(otherToken)
    await other.database.close()
    t.equal(await refusedCode(other, device.credentials), 3, 'server unavailable')
  })
})
