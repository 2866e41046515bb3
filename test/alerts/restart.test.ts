// Issue 13 items 2 and 3, RELIABILITY 65: a webhook receiver down (503) while events happen and the hub
// restarts → every event still delivered, once per delivery id, with a valid signature; an open alert
// survives the restart and is not raised again.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { verifySignature } from '../../server/webhooks/webhook-signing.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { alertIn, connectDevice, createRule, FAST, publishTelemetry, restartableDatabase, startReceiver } from './alert-kit.ts'

t.test('receiver down across a hub restart: every event delivered once per delivery id, signed; the open alert kept', async (t) => {
  const url = await restartableDatabase(t)
  const env = { DATABASE_URL: url, HUB_WEBHOOK_ALLOW_PRIVATE: '1', HUB_PUBLIC_URL: 'https://hub.example.test/' }
  let down = true
  const receiver = await startReceiver(t, () => down ? 503 : 204)

  const first = await startTestHub(t, { alerts: FAST, env })
  let token = await first.login()
  const created = await first.api(token, 'POST', '/api/webhooks', { url: receiver.url, events: ['alert.raised', 'alert.resolved', 'device.online', 'device.offline'] })
  t.equal(created.status, 201)
  const { secret, webhook } = created.body
  t.match(secret, /^whsec_/)
  t.notOk('secret' in (await first.api(token, 'GET', `/api/webhooks/${webhook.id as string}`)).body, 'the secret is shown once')
  const { device, credentials } = await first.createDevice(token)
  const rule = await createRule(first, token, { name: 'weak', kind: 'metric', metric: 'rsrp', op: '<', threshold: -110 })
  const client = await connectDevice(t, first, credentials)
  await publishTelemetry(client, device.id, [{ rsrp: -120 }])
  const open = await alertIn(first, token, rule.id, device.id, 'open')
  await client.endAsync(true)
  const deliveries = async (hub: typeof first, tok: string) => (await hub.api(tok, 'GET', `/api/webhooks/${webhook.id as string}/deliveries?limit=100`)).body.items as any[]
  await eventually('device.online, alert.raised and device.offline in the outbox, tried and refused', async () => {
    const items = await deliveries(first, token)
    return items.length === 3 && items.every((d) => d.attempts >= 1 && d.status === 'pending')
  })
  t.ok(receiver.received.length >= 3 && receiver.received.every((r) => r.answered === 503), 'the receiver refused every attempt so far')
  await first.close()

  const second = await startTestHub(t, { alerts: FAST, env })
  token = await second.login()
  t.match(await second.api(token, 'GET', `/api/alerts/${open.id as string}`), { status: 200, body: { state: 'open' } }, 'the open alert survived the restart')
  const again = await connectDevice(t, second, credentials)
  await publishTelemetry(again, device.id, [{ rsrp: -125 }])
  await publishTelemetry(again, device.id, [{ rsrp: -126 }])
  down = false
  await publishTelemetry(again, device.id, [{ rsrp: -90 }])
  await alertIn(second, token, rule.id, device.id, 'resolved')
  const [{ n }] = await second.database.rows<{ n: number }>(sql`select count(*)::int as n from alerts where rule_id = ${rule.id}`)
  t.equal(n, 1, 'not raised again after the restart')

  // online, raised, offline (first run); online, resolved (second run)
  const items = await eventually('five deliveries, all delivered', async () => {
    const items = await deliveries(second, token)
    return items.length === 5 && items.every((d) => d.status === 'delivered') && items
  }, 60_000)
  t.same(items.map((d) => d.eventType).sort(), ['alert.raised', 'alert.resolved', 'device.offline', 'device.online', 'device.online'])
  const raised = items.find((d) => d.eventType === 'alert.raised')
  t.ok(raised.attempts >= 2 && raised.attemptLog.some((a: any) => a.status === 503) && raised.attemptLog.at(-1).status === 204, 'the log shows the refusals and the answer')

  const accepted = receiver.received.filter((r) => r.answered < 300)
  const ids = accepted.map((r) => r.headers['x-hub-delivery'])
  t.same([...new Set(ids)].sort(), items.map((d) => d.id).sort(), 'every delivery id answered 2xx')
  t.equal(ids.length, new Set(ids).size, 'each once')
  for (const r of receiver.received) {
    t.ok(verifySignature(secret, r.body, r.headers['x-hub-signature-256'] as string), `signature of ${r.headers['x-hub-delivery'] as string} attempt ${r.headers['x-hub-attempt'] as string}`)
    const body = JSON.parse(r.body)
    t.same(Object.keys(body).sort(), ['data', 'id', 'links', 'occurredAt', 'tenantId', 'type'])
    t.equal(r.headers['x-hub-event'], body.type)
    t.equal(body.tenantId, second.bootstrap.tenantId)
    t.equal(body.links.device, `https://hub.example.test/api/devices/${device.id as string}`)
  }
  const raisedBody = JSON.parse(accepted.find((r) => r.headers['x-hub-event'] === 'alert.raised')?.body as string)
  t.match(raisedBody.data, { id: open.id, state: 'open', ruleId: rule.id, deviceId: device.id })
  t.equal(raisedBody.links.alert, `https://hub.example.test/api/alerts/${open.id as string}`)
})
