import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

const run = promisify(execFile)
const available = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub')

t.test('the real Mosquitto clients against the hub', { skip: available ? false : 'mosquitto_pub/mosquitto_sub are not installed (apt-get install mosquitto-clients)' }, async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const a = await hub.createDevice(token)
  const b = await hub.createDevice(token)
  const auth = (c: { clientId: string, username: string, password: string }) => ['-h', '127.0.0.1', '-p', String(hub.mqttPort), '-i', c.clientId, '-u', c.username, '-P', c.password]

  const ticket = (await hub.api(token, 'POST', '/api/events/ticket')).body.ticket
  const sse = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
  t.teardown(() => sse.close())

  const ts = Date.now()
  await run('mosquitto_pub', [...auth(a.credentials), '-q', '1', '-t', `devices/${a.device.id}/telemetry`, '-m', JSON.stringify({ ts, seq: 42, rsrp: -101, rat: 'NB-IoT' })])
  const stored = await hub.api(token, 'GET', `/api/devices/${a.device.id}/telemetry`)
  t.same(stored.body.items, [{ ts: new Date(ts).toISOString(), seq: 42, rsrp: -101, rat: 'NB-IoT' }], 'mosquitto_pub telemetry is in the API')
  const event = await sse.next((e) => e.event === 'telemetry' && e.data.deviceId === a.device.id)
  t.equal(event.data.seq, 42, 'and in the SSE stream')

  // mosquitto_sub reports the SUBACK 0x80, gives up and exits (with status 0) without any message.
  const denied = await run('mosquitto_sub', [...auth(a.credentials), '-q', '1', '-t', `devices/${b.device.id}/commands/#`, '-C', '1', '-W', '5'])
    .then((ok) => ok, (err: { stdout: string, stderr: string }) => err)
  t.match(denied.stderr, /All subscription requests were denied/, 'mosquitto_sub on another device\'s topics is refused')
  t.equal(denied.stdout, '', 'and receives nothing')
  const own = await run('mosquitto_sub', [...auth(a.credentials), '-q', '1', '-t', `devices/${a.device.id}/commands/#`, '-C', '1', '-W', '1'])
    .then((ok) => ok, (err: { stdout: string, stderr: string }) => err)
  t.notMatch(own.stderr, /denied/, 'its own command topic is granted')
})
