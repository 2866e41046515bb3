// Issue 13 items 4 and 6: data usage from the modem's cumulative counters (resets, resends), per day and
// month, plans and the summary, and a quota alert. This hub keeps HUB_WEBHOOK_ALLOW_PRIVATE off.
import t from 'tap'
import { usageDeltas } from '../../server/usage/usage-counter.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { alertIn, connectDevice, createRule, FAST, publishTelemetry } from './alert-kit.ts'

const hub = await startTestHub(t, { alerts: FAST })
const token = await hub.login()

t.test('usage across a counter reset, a resend counted once, per day and month; the quota alert', async (t) => {
  const plan = await hub.api(token, 'POST', '/api/plans', { name: 'IoT 10 KB', quotaBytes: 10_000, period: 'month' })
  t.equal(plan.status, 201)
  t.equal((await hub.api(token, 'POST', '/api/plans', { name: 'IoT 10 KB', quotaBytes: 1, period: 'day' })).status, 409, 'plan names are unique per tenant')
  const { device, credentials } = await hub.createDevice(token)
  t.match(await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { planId: '00000000-0000-0000-0000-000000000000' }), { status: 404 }, 'a plan that is not the tenant\'s')
  t.equal((await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { planId: plan.body.id })).status, 200)
  const rule = await createRule(hub, token, { name: '80 % of plan', kind: 'data-usage', threshold: 80, severity: 'critical' })
  const client = await connectDevice(t, hub, credentials)
  const now = Date.now()
  await publishTelemetry(client, device.id, [{ ts: now - 5000, seq: 1, bytesUp: 1000, bytesDown: 2000 }])
  await publishTelemetry(client, device.id, [{ ts: now - 4000, seq: 2, bytesUp: 2500, bytesDown: 4000 }])
  await publishTelemetry(client, device.id, [{ ts: now - 4000, seq: 2, bytesUp: 2500, bytesDown: 4000 }]) // a resend
  await publishTelemetry(client, device.id, [{ ts: now - 3000, seq: 1, bytesUp: 300, bytesDown: 100 }]) // the modem rebooted
  const usage = async (period: string) => (await hub.api(token, 'GET', `/api/devices/${device.id}/usage?period=${period}`)).body
  let day = await usage('day')
  t.same(day.items.map((i: any) => [i.bytesUp, i.bytesDown]), [[2800, 4100]], '1000 + 1500 + 300 up, 2000 + 2000 + 100 down')
  t.equal(day.items[0].periodStart, new Date(now - 3000).toISOString().slice(0, 10) + 'T00:00:00.000Z')
  t.match(day.plan, { id: plan.body.id, quotaBytes: 10_000, period: 'month', usedBytes: 6900 })
  // 8,900 of 10,000: past 80 %.
  await publishTelemetry(client, device.id, [{ ts: now - 2000, seq: 2, bytesUp: 1300, bytesDown: 1100 }])
  const open = await alertIn(hub, token, rule.id, device.id, 'open')
  t.match(open, { kind: 'data-usage', severity: 'critical' })
  t.ok(Math.abs(open.value - 89) < 0.01, `at ${open.value as number} %: raised by the sample that passed 80 %, not before`)
  day = await usage('day')
  t.same(day.items.map((i: any) => i.bytesUp + i.bytesDown), [8900])
  const month = await usage('month')
  t.same(month.items.map((i: any) => [i.bytesUp, i.bytesDown]), [[3800, 5100]])
  t.equal(month.items[0].periodStart, new Date(now - 2000).toISOString().slice(0, 8) + '01T00:00:00.000Z')

  let summary = (await hub.api(token, 'GET', '/api/usage/summary')).body
  t.match(summary.plans, [{ planId: plan.body.id, devices: 1, usedBytes: 8900, quotaBytes: 10_000, devicesOverQuota: 0 }])
  await publishTelemetry(client, device.id, [{ ts: now - 1000, seq: 3, bytesUp: 3000, bytesDown: 1100 }])
  summary = (await hub.api(token, 'GET', '/api/usage/summary')).body
  t.match(summary, { plans: [{ devicesOverQuota: 1 }], tenant: { devicesWithPlan: 1, monthUsedBytes: 10_600, devicesOverQuota: 1 } })
  t.equal((await alertIn(hub, token, rule.id, device.id, 'open')).id, open.id, 'still the one alert')

  // Off the plan: the sweep resolves the alert.
  t.equal((await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { planId: null })).status, 200)
  await alertIn(hub, token, rule.id, device.id, 'resolved')
})

t.test('usage is kept per UTC day and read by range', async (t) => {
  const { device, credentials } = await hub.createDevice(token)
  const client = await connectDevice(t, hub, credentials)
  const day = 24 * 3600_000
  const base = Date.UTC(2025, 0, 10, 12)
  await publishTelemetry(client, device.id, [
    { ts: base, seq: 1, bytesUp: 100 },
    { ts: base + day, seq: 2, bytesUp: 250 },
    { ts: base + 2 * day, seq: 3, bytesUp: 50 }, // a reset: 50 counts
    { ts: base + 2 * day + 1, seq: 4, bytesDown: 70 }
  ])
  const all = (await hub.api(token, 'GET', `/api/devices/${device.id}/usage?period=day&from=2025-01-01&to=2025-01-31`)).body.items
  t.same(all, [
    { periodStart: '2025-01-10T00:00:00.000Z', bytesUp: 100, bytesDown: 0 },
    { periodStart: '2025-01-11T00:00:00.000Z', bytesUp: 150, bytesDown: 0 },
    { periodStart: '2025-01-12T00:00:00.000Z', bytesUp: 50, bytesDown: 70 }
  ])
  const some = (await hub.api(token, 'GET', `/api/devices/${device.id}/usage?period=day&from=2025-01-11&to=2025-01-11T23:59:59Z`)).body.items
  t.same(some.map((i: any) => i.periodStart), ['2025-01-11T00:00:00.000Z'])
  t.equal((await hub.api(token, 'GET', `/api/devices/${device.id}/usage?from=2025-02-01&to=2025-01-01`)).status, 400)
  t.equal((await hub.api(token, 'GET', '/api/devices/nope/usage')).status, 404)
})

t.test('the counter arithmetic: resets, late samples, one counter at a time', async (t) => {
  const at = (ms: number) => new Date(Date.UTC(2025, 5, 1) + ms)
  const { deltas, next } = usageDeltas([
    { deviceId: 'd', ts: at(3000), seq: 3, bytesUp: 50, bytesDown: null },
    { deviceId: 'd', ts: at(1000), seq: 1, bytesUp: 100, bytesDown: 10 },
    { deviceId: 'd', ts: at(2000), seq: 2, bytesUp: 400, bytesDown: null }
  ], new Map([['d', { bytesUp: 90, bytesDown: 5, lastTs: at(0), lastSeq: 0 }]]))
  t.same(deltas, [{ deviceId: 'd', day: '2025-06-01', month: '2025-06-01', bytesUp: 10 + 300 + 50, bytesDown: 5 }])
  t.match(next.get('d'), { bytesUp: 50, bytesDown: 10, lastSeq: 3 })
  const late = usageDeltas([{ deviceId: 'd', ts: at(500), seq: 9, bytesUp: 1, bytesDown: 1 }], new Map([['d', { bytesUp: 50, bytesDown: 10, lastTs: at(3000), lastSeq: 3 }]]))
  t.same(late.deltas, [], 'a sample older than the last reading adds nothing')
})

t.test('without HUB_WEBHOOK_ALLOW_PRIVATE a loopback receiver is refused', async (t) => {
  for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://[::1]/hook', 'http://169.254.169.254/latest']) {
    t.match(await hub.api(token, 'POST', '/api/webhooks', { url, events: ['device.online'] }), { status: 400, body: { error: { code: 'HUB_ERR_WEBHOOK_URL' } } }, url)
  }
})
