import t from 'tap'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import { startTestHub } from '../helpers/test-hub.ts'

t.test('unusable payloads are quarantined with the reason and acknowledged, never resent forever', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  const topic = `devices/${device.id}/telemetry`
  const now = Date.now()
  const cases: Array<[string, string | Buffer, string]> = [
    ['bad JSON', '{"ts": 1,', 'invalid-json'],
    ['NUL byte', Buffer.from('{"ts": 1\u0000}'), 'nul-byte'],
    ['escaped NUL', JSON.stringify({ ts: now, seq: 1, rat: 'LTE\u0000' }), 'nul-byte'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid-utf8'],
    ['wrong type', JSON.stringify({ ts: now, seq: 'one' }), 'invalid-sample'],
    ['out of range', JSON.stringify({ ts: now, seq: 1, rsrp: 40 }), 'invalid-sample'],
    ['far future', JSON.stringify({ ts: now + 7 * 86400_000, seq: 1 }), 'invalid-sample'],
    ['missing seq', JSON.stringify({ ts: now }), 'invalid-sample'],
    ['empty array', '[]', 'invalid-sample'],
    ['too large', JSON.stringify({ ts: now, seq: 1, pad: 'x'.repeat(70 * 1024) }), 'payload-too-large']
  ]
  for (const [, payload] of cases) await client.publishAsync(topic, payload, { qos: 1 })
  t.ok(client.connected, 'every bad payload was acknowledged on the same connection')

  const rows = await hub.database.rows<{ reason: string, device_id: string }>(sql`select reason, device_id from quarantine order by id`)
  t.same(rows.map((r) => r.reason), cases.map(([, , reason]) => reason))
  t.ok(rows.every((r) => r.device_id === device.id))
  const stored = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?from=0`)
  t.same(stored.body.items, [], 'nothing invalid reached the telemetry table')
  const metrics = await (await fetch(hub.httpUrl + '/metrics')).text()
  t.match(metrics, /hub_ingest_quarantined_total\{reason="invalid-sample"\} 5/)
})
