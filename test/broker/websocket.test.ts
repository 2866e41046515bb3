import t from 'tap'
import { connect } from 'node:net'
import mqtt from 'mqtt'
import { startTestHub } from '../helpers/test-hub.ts'

t.test('MQTT over WebSocket at /mqtt on the HTTP port: same authentication, ACL and durable ingest', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const wsUrl = hub.httpUrl.replace('http', 'ws') + '/mqtt'

  const client = await mqtt.connectAsync(wsUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  const ts = Date.now()
  await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts, seq: 7, rsrq: -11 }), { qos: 1 })
  const stored = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry`)
  t.same(stored.body.items, [{ ts: new Date(ts).toISOString(), seq: 7, rsrq: -11 }])

  const refused = await mqtt.connectAsync(wsUrl, { ...credentials, password: 'wrong', reconnectPeriod: 0 }).then(() => null, (err: { code?: number }) => err)
  t.equal(refused?.code, 4, 'a wrong secret is refused over WebSocket too')
  const answer = await new Promise<string>((resolve) => {
    const socket = connect(hub.httpPort, '127.0.0.1', () => {
      socket.write('GET /not-mqtt HTTP/1.1\r\nHost: hub\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    })
    let text = ''
    socket.on('data', (chunk) => { text += chunk.toString() })
    socket.on('close', () => resolve(text))
  })
  t.match(answer, /^HTTP\/1.1 404/, 'an upgrade anywhere else is answered 404 and closed')
})
