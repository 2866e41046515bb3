// Issue 13 item 3: webhooks are the tenant's own; a slow receiver holds a bounded number of connections;
// redirects are not followed; URLs are checked.
import t from 'tap'
import { isPrivateAddress, resolveWebhookTarget } from '../../server/webhooks/url-policy.ts'
import { eventually } from '../helpers/eventually.ts'
import { connectDevice, startAlertHub, startReceiver } from './alert-kit.ts'

const hub = await startAlertHub(t)
const token = await hub.login()

t.test('each tenant\'s webhook gets its own tenant\'s events only; its log is its own', async (t) => {
  const tenant = await hub.api(token, 'POST', '/api/tenants', { name: 'Webhook Isolation Carrier' })
  const password = 'a sturdy passphrase 42 of theirs'
  t.equal((await hub.api(token, 'POST', '/api/users', { email: 'receivers@other.test', password, role: 'admin', tenantId: tenant.body.id })).status, 201)
  const theirs = (await hub.api('', 'POST', '/api/auth/login', { email: 'receivers@other.test', password })).body.accessToken as string
  const ours = await startReceiver(t)
  const other = await startReceiver(t)
  const mine = (await hub.api(token, 'POST', '/api/webhooks', { url: ours.url, events: ['device.online'] })).body.webhook
  const their = (await hub.api(theirs, 'POST', '/api/webhooks', { url: other.url, events: ['device.online', 'device.offline'] })).body.webhook
  const a = await hub.createDevice(token)
  const b = await hub.createDevice(theirs)
  await connectDevice(t, hub, a.credentials)
  await connectDevice(t, hub, b.credentials)
  await eventually('both receivers got their device\'s online event', () => ours.received.length >= 1 && other.received.length >= 1)
  const ourDevices = ours.received.map((r) => JSON.parse(r.body).data.deviceId)
  const theirDevices = other.received.map((r) => JSON.parse(r.body).data.deviceId)
  t.same([...new Set(ourDevices)], [a.device.id])
  t.same([...new Set(theirDevices)], [b.device.id])
  t.same((await hub.api(theirs, 'GET', '/api/webhooks')).body.items.map((w: { id: string }) => w.id), [their.id])
  for (const [method, path] of [['GET', `/api/webhooks/${mine.id as string}`], ['GET', `/api/webhooks/${mine.id as string}/deliveries`], ['PATCH', `/api/webhooks/${mine.id as string}`], ['DELETE', `/api/webhooks/${mine.id as string}`]]) {
    t.equal((await hub.api(theirs, method, path, method === 'PATCH' ? { enabled: false } : undefined)).status, 404, `${method} ${path}`)
  }
  t.equal((await hub.api(token, 'DELETE', `/api/webhooks/${mine.id as string}`)).status, 204)
  t.equal((await hub.api(theirs, 'DELETE', `/api/webhooks/${their.id as string}`)).status, 204)
})

t.test('a slow receiver holds at most 4 connections; its deliveries still arrive', async (t) => {
  const answers: Array<() => void> = []
  const slow = await startReceiver(t)
  slow.server.removeAllListeners('request')
  let open = 0
  let maxOpen = 0
  let done = 0
  slow.server.on('request', (req, res) => {
    open++
    maxOpen = Math.max(maxOpen, open)
    req.resume()
    answers.push(() => { open--; done++; res.writeHead(200).end() })
  })
  const hook = (await hub.api(token, 'POST', '/api/webhooks', { url: slow.url, events: ['device.online', 'device.offline'] })).body.webhook
  const devices = await Promise.all(Array.from({ length: 12 }, () => hub.createDevice(token)))
  await Promise.all(devices.map((d) => connectDevice(t, hub, d.credentials)))
  await eventually('4 requests held by the receiver', () => open === 4)
  for (let answered = 0; answered < 12; answered++) {
    await eventually('a request to answer', () => answers.length > 0)
    t.ok(open <= 4, `${open} open`);
    (answers.shift() as () => void)()
  }
  await eventually('the 12 answers written', () => done === 12)
  t.equal(maxOpen, 4, 'never more than 4 at once')
  await eventually('all 12 recorded as delivered', async () => {
    const items = (await hub.api(token, 'GET', `/api/webhooks/${hook.id as string}/deliveries?status=delivered`)).body.items
    return items.length === 12
  })
  await hub.api(token, 'DELETE', `/api/webhooks/${hook.id as string}`)
})

t.test('a redirect is not followed: it is a failed attempt', async (t) => {
  const target = await startReceiver(t)
  const redirecting = await startReceiver(t, () => 302)
  redirecting.server.prependListener('request', (_req, res) => { res.setHeader('location', target.url) })
  const hook = (await hub.api(token, 'POST', '/api/webhooks', { url: redirecting.url, events: ['device.online'] })).body.webhook
  const { credentials } = await hub.createDevice(token)
  await connectDevice(t, hub, credentials)
  const delivery = await eventually('a refused attempt in the log', async () =>
    (await hub.api(token, 'GET', `/api/webhooks/${hook.id as string}/deliveries`)).body.items.find((d: any) => d.attempts >= 2))
  t.match(delivery, { status: 'pending', lastStatus: 302, lastError: /redirect not followed/ })
  t.equal(target.received.length, 0, 'the redirect target was never called')
  await hub.api(token, 'DELETE', `/api/webhooks/${hook.id as string}`)
})

t.test('webhook URLs: the form is checked; private addresses are refused unless allowed', async (t) => {
  for (const url of ['ftp://example.test/x', 'http://user:pw@example.test/', 'not a url', 'http://example.test/#x']) {
    t.match(await hub.api(token, 'POST', '/api/webhooks', { url, events: ['device.online'] }), { status: 400, body: { error: { code: 'HUB_ERR_WEBHOOK_URL' } } }, url)
  }
  t.match(await hub.api(token, 'POST', '/api/webhooks', { url: 'http://127.0.0.1:9/x', events: ['telemetry'] }), { status: 400, body: { error: { code: 'HUB_ERR_VALIDATION' } } }, 'telemetry is not a webhook event')
  for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0', '100.64.0.1']) {
    t.ok(isPrivateAddress(address), `${address} is refused`)
  }
  for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '8.8.8.8']) t.notOk(isPrivateAddress(address), `${address} is public`)
  await t.rejects(resolveWebhookTarget('http://localhost:8080/hook', false), /resolves to .*loopback/, 'a name resolving to loopback')
  await t.rejects(resolveWebhookTarget('http://[::1]/hook', false), /loopback/)
  t.match(await resolveWebhookTarget('http://localhost:8080/hook', true), { address: /^(127\.0\.0\.1|::1)$/ }, 'allowed with HUB_WEBHOOK_ALLOW_PRIVATE=1')
})
