// The webhooks admin page in real Chromium against a real hub: a webhook created from the form to a real
// local receiver (its secret shown once), a real device event delivered and seen in the delivery log,
// switched off and deleted after a confirmation; screenshots desktop and phone, English and Myanmar.
import t from 'tap'
import { createHmac } from 'node:crypto'
import mqtt from 'mqtt'
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core'
import { buildWeb } from '../../web/build.ts'
import { FAST, startReceiver } from '../alerts/alert-kit.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const SHOTS = process.env.CONSOLE_SCREENSHOTS ?? '/tmp'
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }

async function open (browser: Browser, hub: TestHub, options: BrowserContextOptions & { my?: boolean } = {}): Promise<{ page: Page, problems: string[] }> {
  const { my, ...contextOptions } = options
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...contextOptions })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('pageerror', err => problems.push(`page error: ${err.message}`))
  page.on('console', message => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
  if (my === true) await page.addInitScript(() => localStorage.setItem('euicc-hub.locale', 'my'))
  await page.goto(hub.httpUrl + '/admin/webhooks')
  await page.locator('sign-in-form input[name=email]').fill(hub.admin.email)
  await page.locator('sign-in-form input[name=password]').fill(hub.admin.password)
  await page.locator('sign-in-form button[type=submit]').click()
  await page.locator('webhooks-page form').waitFor()
  return { page, problems }
}

t.test('webhooks: create, a delivery in the log, switch off, delete', async t => {
  await buildWeb()
  const hub = await startTestHub(t, { alerts: FAST, env: { HUB_WEBHOOK_ALLOW_PRIVATE: '1' } })
  const token = await hub.login()
  const receiver = await startReceiver(t)
  const { device, credentials } = await hub.createDevice(token, { name: 'Hook ၁' })
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())

  const { page, problems } = await open(browser, hub)
  await page.locator('webhooks-page input[name=url]').fill(receiver.url)
  for (const event of ['alert.raised', 'alert.acknowledged', 'alert.resolved', 'notification', 'command.ended', 'device.offline']) {
    await page.locator(`webhooks-page input[name=events][value="${event}"]`).uncheck()
  }
  await page.locator('webhooks-page button[type=submit]').click()
  const secret = (await page.locator('webhooks-page [data-webhook-secret] .secret').textContent() ?? '').trim()
  t.ok(secret.length > 10, 'the signing secret is shown once')
  const row = page.locator(`webhooks-page tr[data-webhook="${receiver.url}"]`)
  await row.waitFor()
  t.match(await row.textContent() ?? '', 'device.online', 'listed with its event types')
  const [stored] = (await hub.api(token, 'GET', '/api/webhooks')).body.items
  t.match(stored, { url: receiver.url, events: ['device.online'], enabled: true }, 'the hub has it, with the chosen subset of events')
  await page.locator('webhooks-page [data-webhook-secret] button').click()
  await page.locator('webhooks-page [data-webhook-secret]').waitFor({ state: 'detached' })

  await row.locator('[data-log]').click()
  await page.locator('webhooks-page [data-deliveries]').waitFor()
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0, connectTimeout: 30_000 })
  t.teardown(() => client.endAsync(true))
  const delivered = page.locator('webhooks-page [data-deliveries] tr[data-delivery=delivered]', { hasText: 'device.online' })
  await delivered.waitFor()
  t.match(await delivered.textContent() ?? '', /200/, 'the device going online is delivered and shown in the log, with the receiver\'s answer')
  const request = await eventually('the receiver got it', () => receiver.received.find(r => r.headers['x-hub-event'] === 'device.online'))
  t.equal(request.headers['x-hub-signature-256'], `sha256=${createHmac('sha256', secret).update(request.body).digest('hex')}`, 'signed with the secret the page showed')
  t.match(JSON.parse(request.body), { data: { deviceId: device.id } }, 'about the device')
  await page.screenshot({ path: `${SHOTS}/console-webhooks-desktop.png`, fullPage: true })

  await row.locator('input[type=checkbox]').uncheck()
  await eventually('switched off', async () => (await hub.api(token, 'GET', `/api/webhooks/${stored.id}`)).body.enabled === false)
  t.pass('switched off from its checkbox (PATCH)')

  for (const [name, options] of [['desktop-dark', { colorScheme: 'dark' as const }], ['desktop-my', { my: true }], ['phone', PHONE], ['phone-my-dark', { ...PHONE, my: true, colorScheme: 'dark' as const }]] as const) {
    const shot = await open(browser, hub, options)
    await shot.page.locator(`webhooks-page tr[data-webhook="${receiver.url}"] [data-log]`).click()
    await shot.page.locator('webhooks-page [data-deliveries] tr[data-delivery]').first().waitFor()
    await shot.page.evaluate(() => document.fonts.ready)
    if (name.includes('-my')) {
      t.equal(await shot.page.locator('admin-panel nav.tabs a[aria-current=page]').textContent(), 'ဝဘ်ဟုခ်များ', `${name}: the tab in Myanmar`)
      t.equal(await shot.page.locator('webhooks-page button[type=submit]').textContent(), 'ဝဘ်ဟုခ် ထည့်ရန်', `${name}: and the form`)
    }
    const overflow = await shot.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    t.ok(overflow <= 0, `${name}: no horizontal scroll (${overflow} px)`)
    await shot.page.screenshot({ path: `${SHOTS}/console-webhooks-${name}.png`, fullPage: true })
    t.same(shot.problems, [], `${name}: no console error`)
    await shot.page.context().close()
  }

  await row.locator('[data-delete]').click()
  await page.locator('confirm-dialog dialog[open]').waitFor()
  await page.locator('confirm-dialog [data-confirm]').click()
  await row.waitFor({ state: 'detached' })
  t.same((await hub.api(token, 'GET', '/api/webhooks')).body.items, [], 'deleted after a confirmation')
  t.same(problems, [], 'no console error')
})
