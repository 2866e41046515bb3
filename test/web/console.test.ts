// The operations console in real Chromium against a real hub: URLs per view (deep links, Back), English
// and Myanmar, the stale state when the stream is down, the phone layout, operations with live progress.
import { readFileSync } from 'node:fs'
import t from 'tap'
import mqtt from 'mqtt'
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core'
import { buildWeb } from '../../web/build.ts'
import { lpaDevice } from '../commands/helpers.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const SHOTS = process.env.CONSOLE_SCREENSHOTS ?? '/tmp'

interface Problems { list: string[] }

/** Page errors, console errors, script dialogs and CSP violations. */
function watch (page: Page): Problems {
  const problems: Problems = { list: [] }
  page.on('pageerror', err => problems.list.push(`page error: ${err.message}`))
  page.on('dialog', dialog => {
    problems.list.push(`dialog: ${dialog.message()}`)
    dialog.dismiss().catch(() => {})
  })
  page.on('console', message => {
    if (message.type() === 'error') problems.list.push(`console: ${message.text()}`)
  })
  return problems
}

async function signIn (page: Page, hub: TestHub, path = '/'): Promise<void> {
  await page.goto(hub.httpUrl + path)
  await page.locator('sign-in-form input[name=email]').fill(hub.admin.email)
  await page.locator('sign-in-form input[name=password]').fill(hub.admin.password)
  await page.locator('sign-in-form button[type=submit]').click()
  await page.locator('fleet-summary [data-stream=open], device-page, admin-panel, campaigns-view, alerts-view, sites-view').first().waitFor()
}

async function newPage (browser: Browser, options: BrowserContextOptions = {}): Promise<{ page: Page, problems: Problems }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...options })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  return { page, problems: watch(page) }
}

t.test('the console', async t => {
  const { totalGzipBytes } = await buildWeb()
  t.ok(totalGzipBytes <= 80 * 1024, `all JavaScript, the lazily loaded charts included: ${totalGzipBytes} bytes gzipped, budget 80 KB`)
  const hub = await startTestHub(t)
  const token = await hub.login()
  for (let i = 0; i < 24; i++) {
    await hub.createDevice(token, { name: `Meter ${String(i + 1).padStart(2, '0')}`, tags: i % 3 === 0 ? ['north', 'pumps'] : ['south'] })
  }
  const named = await hub.createDevice(token, { name: 'ရေတိုင်းကိရိယာ ၁', tags: ['yangon'] })
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())

  t.test('the server answers the dashboard for its URLs, and JSON 404s elsewhere', async t => {
    for (const path of [`/devices/${named.device.id}`, '/campaigns', '/alerts', '/sites', '/admin', '/admin/audit']) {
      const res = await fetch(hub.httpUrl + path, { headers: { accept: 'text/html' } })
      t.equal(res.status, 200, `${path} answers 200`)
      t.match(await res.text(), /<hub-app>/, `${path} is the dashboard`)
    }
    for (const path of ['/api/nothing-here', '/devices/a/b', '/nothing']) {
      const res = await fetch(hub.httpUrl + path, { headers: { accept: 'text/html' } })
      t.equal(res.status, 404, `${path} is a 404`)
      t.match(res.headers.get('content-type') ?? '', /application\/json/, 'in JSON')
    }
  })

  t.test('deep links and Back', async t => {
    const { page, problems } = await newPage(browser)
    await signIn(page, hub, `/devices/${named.device.id}`)
    await page.locator('device-page [data-device-name]', { hasText: 'ရေတိုင်းကိရိယာ ၁' }).waitFor()
    t.pass('a deep link opens the device page after signing in')
    await page.locator('hub-app nav a[data-nav=fleet]').click()
    await page.locator(`fleet-table [data-device-id="${named.device.id}"]`).waitFor()
    t.equal(new URL(page.url()).pathname, '/', 'the fleet has its own URL')
    await page.goBack()
    await page.locator('device-page [data-device-name]').waitFor()
    t.equal(new URL(page.url()).pathname, `/devices/${named.device.id}`, 'Back returns to the device page')
    await page.goForward()
    await page.locator(`fleet-table [data-device-id="${named.device.id}"] [data-col=name] a`).click()
    await page.locator('device-page [data-device-name]').waitFor()
    t.pass('a device name links to its page')
    await page.goto(hub.httpUrl + '/admin/audit')
    await page.locator('admin-panel [data-audit-row]').first().waitFor()
    t.pass('an admin page by deep link (reload keeps the session)')
    await page.goto(hub.httpUrl + '/?tag=pumps')
    await page.locator('fleet-table .count', { hasText: '8 of 25 devices' }).waitFor()
    t.pass('the fleet\'s filters come from the URL')
    t.same(problems.list, [], 'no console error')
  })

  t.test('the fleet sorted by a column both ways, and the filtered list exported as CSV', async t => {
    const { page, problems } = await newPage(browser)
    await signIn(page, hub, '/?tag=pumps')
    await page.locator('fleet-table .count', { hasText: '8 of 25 devices' }).waitFor()
    const names = async () => await page.locator('fleet-table [data-device-id] [data-col=name]').allTextContents()
    const pumps = Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 3 === 0).map((i) => `Meter ${String(i + 1).padStart(2, '0')}`)
    await page.locator('fleet-table [data-sort=name]').click()
    await eventually('rows by name, A to Z', async () => JSON.stringify((await names()).map((n) => n.trim())) === JSON.stringify(pumps))
    t.match(page.url(), /sort=name/, 'the sort is in the URL')
    await page.locator('fleet-table [data-sort=name]').click()
    await eventually('rows by name, Z to A', async () => JSON.stringify((await names()).map((n) => n.trim())) === JSON.stringify([...pumps].reverse()))
    t.match(page.url(), /dir=desc/, 'and its direction')
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('fleet-table [data-export]').click()])
    const csv = readFileSync(await download.path(), 'utf8')
    const lines = csv.replace(/^\ufeff/, '').trimEnd().split('\r\n')
    t.match(lines[0], /^id,name,status,/, 'a header line')
    t.same(lines.slice(1).map((l) => l.split(',')[1]), [...pumps].reverse(), 'the filtered devices, in the order shown')
    t.same(problems.list, [], 'no console error')
  })

  t.test('Myanmar: chosen in the header, remembered, <html lang>, the bundled font', async t => {
    const { page, problems } = await newPage(browser)
    await signIn(page, hub)
    await page.locator('hub-app [data-locale-picker]').selectOption('my')
    await page.locator('hub-app nav a[data-nav=fleet]', { hasText: 'စက်အုပ်စု' }).waitFor()
    t.equal(await page.evaluate(() => document.documentElement.lang), 'my', '<html lang="my">')
    await page.reload()
    await page.locator('hub-app nav a[data-nav=fleet]', { hasText: 'စက်အုပ်စု' }).waitFor()
    t.equal(await page.evaluate(() => document.documentElement.lang), 'my', 'the choice is remembered across a reload')
    const font = await page.evaluate(async () => {
      await document.fonts.ready
      const faces = [...document.fonts].filter(f => f.family.replace(/"/g, '') === 'Noto Sans Myanmar')
      return { loaded: faces.filter(f => f.status === 'loaded').length, check: document.fonts.check('16px "Noto Sans Myanmar"', 'မြန်မာ') }
    })
    t.ok(font.loaded >= 1, 'the Myanmar web font is loaded (from the hub, /assets/)')
    t.ok(font.check, 'and renders Myanmar script')
    const family = await page.locator('fleet-table [data-col=name] a').first().evaluate(el => getComputedStyle(el).fontFamily)
    t.match(family, /Noto Sans Myanmar/, 'the font stack of the table names it')
    const fontRequests = await page.evaluate(() => performance.getEntriesByType('resource').map(e => e.name).filter(n => /\.woff2/.test(n)))
    t.ok(fontRequests.length > 0 && fontRequests.every(n => n.startsWith(hub.httpUrl + '/assets/')), 'font files come from the hub itself')
    for (const [name, options] of [['desktop-my', {}], ['desktop-my-dark', { colorScheme: 'dark' as const }]] as const) {
      const shot = await newPage(browser, options)
      await shot.page.addInitScript(() => localStorage.setItem('euicc-hub.locale', 'my'))
      await signIn(shot.page, hub)
      await shot.page.locator(`fleet-table [data-device-id="${named.device.id}"]`).waitFor()
      await shot.page.evaluate(() => document.fonts.ready)
      await shot.page.screenshot({ path: `${SHOTS}/console-fleet-${name}.png` })
      await shot.page.goto(`${hub.httpUrl}/devices/${named.device.id}`)
      await shot.page.locator('device-page [data-device-name]').waitFor()
      await shot.page.screenshot({ path: `${SHOTS}/console-device-${name}.png`, fullPage: true })
      t.same(shot.problems.list, [], `${name}: no console error`)
      await shot.page.context().close()
    }
    await page.locator('hub-app [data-locale-picker]').selectOption('en')
    await page.locator('hub-app nav a[data-nav=fleet]', { hasText: 'Fleet' }).waitFor()
    t.equal(await page.evaluate(() => document.documentElement.lang), 'en', 'back to English')
    t.same(problems.list, [], 'no console error')
  })

  t.test('a phone: cards, no horizontal scroll', async t => {
    for (const [name, options] of [['phone', {}], ['phone-dark', { colorScheme: 'dark' as const }], ['phone-my', {}]] as const) {
      const { page, problems } = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, ...options })
      if (name === 'phone-my') await page.addInitScript(() => localStorage.setItem('euicc-hub.locale', 'my'))
      await signIn(page, hub)
      await page.locator(`fleet-table [data-device-id="${named.device.id}"]`).waitFor()
      await page.evaluate(() => document.fonts.ready)
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      t.ok(overflow <= 0, `${name}: no horizontal scroll on the page (${overflow} px)`)
      const table = await page.locator('fleet-table .scroll').evaluate(el => el.scrollWidth - el.clientWidth)
      t.ok(table <= 0, `${name}: the device list does not scroll sideways (${table} px)`)
      t.ok(await page.locator(`fleet-table [data-device-id="${named.device.id}"] [data-col=rsrp]`).isVisible(), `${name}: a card shows the radio figures`)
      await page.screenshot({ path: `${SHOTS}/console-fleet-${name}.png` })
      await page.goto(`${hub.httpUrl}/devices/${named.device.id}`)
      await page.locator('device-page [data-device-name]').waitFor()
      const deviceOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      t.ok(deviceOverflow <= 0, `${name}: the device page has no horizontal scroll (${deviceOverflow} px)`)
      await page.screenshot({ path: `${SHOTS}/console-device-${name}.png`, fullPage: true })
      t.same(problems.list, [], `${name}: no console error`)
      await page.context().close()
    }
  })

  t.test('desktop screenshots, English', async t => {
    for (const [name, options] of [['desktop', {}], ['desktop-dark', { colorScheme: 'dark' as const }]] as const) {
      const { page, problems } = await newPage(browser, options)
      await signIn(page, hub)
      await page.locator(`fleet-table [data-device-id="${named.device.id}"]`).waitFor()
      const cut = await page.locator('fleet-table .scroll').evaluate(el => el.scrollWidth - el.clientWidth)
      t.ok(cut <= 0, `${name}: every default column fits at 1440 px (${cut} px over)`)
      await page.screenshot({ path: `${SHOTS}/console-fleet-${name}.png` })
      for (const path of ['/admin/users', '/admin/audit', '/sites', '/campaigns']) {
        await page.goto(hub.httpUrl + path)
        await page.waitForLoadState('networkidle')
        await page.screenshot({ path: `${SHOTS}/console-${path.slice(1).replace(/\//g, '-')}-${name}.png`, fullPage: true })
      }
      t.same(problems.list, [], `${name}: no console error`)
      await page.context().close()
    }
  })

  t.test('an operation from the click to the device\'s answer, live; rotate credentials; charts', async t => {
    const held: string[] = []
    const sim = await lpaDevice(hub, token, { behaviour: command => { held.push(command.id); return 'hold' } })
    t.teardown(() => sim.disconnect())
    await hub.api(token, 'PATCH', `/api/devices/${sim.id}`, { name: 'Pump ၇' })
    const now = Date.now()
    const samples = Array.from({ length: 30 }, (_, i) => ({ ts: now - (30 - i) * 60_000, seq: i + 1, rsrp: -100 + (i % 7), rsrq: -11 + (i % 3), sinr: 5 + (i % 5), battery: 90 - i / 3, rat: 'LTE-M' }))
    await sim.publish(`devices/${sim.id}/telemetry`, Buffer.from(JSON.stringify(samples)))
    const { page, problems } = await newPage(browser)
    await signIn(page, hub, `/devices/${sim.id}`)
    await page.locator('device-page [data-device-name]', { hasText: 'Pump ၇' }).waitFor()
    await page.locator('device-charts [data-chart=radio] canvas').waitFor()
    t.pass('the charts draw from the bucketed telemetry API (a lazily loaded chunk)')
    await page.locator('device-charts [data-range="30d"]').click()
    await page.locator('device-charts [data-range="30d"][aria-pressed=true]').waitFor()
    await page.locator('device-charts [data-chart=battery] canvas').waitFor()
    t.pass('another range')

    await page.locator('device-page [data-op=listProfiles]').click()
    const row = page.locator('device-page [data-command-id]').first()
    await page.locator('device-page [data-command-status=sent]').waitFor()
    t.pass('the command shows as sent once the device has it (command.updated over SSE)')
    await sim.release(held[0])
    await page.locator('device-page [data-command-status=succeeded]').waitFor()
    t.equal(await row.getAttribute('data-command-status'), 'succeeded', 'and succeeded when the device answers')
    await page.locator('device-page [data-profile]').first().waitFor()
    t.ok(await page.locator('device-page [data-profile]').count() >= 2, 'its profiles are listed, with state and cause')

    await page.locator('device-page [data-activation-code]').fill('LPA:1$smdp.example.com$MATCHING-1')
    await page.locator('device-page img[data-qr]').waitFor()
    t.match(await page.locator('device-page img[data-qr]').getAttribute('src') ?? '', /^data:image\/svg\+xml/, 'the activation code\'s QR, from the API')

    await page.locator('device-page [data-op=delete]').first().click()
    await page.locator('confirm-dialog dialog[open]').waitFor()
    t.pass('deleting a profile asks first')
    await page.getByRole('button', { name: 'Cancel' }).click()
    await page.locator('confirm-dialog').waitFor({ state: 'detached' })

    await page.locator('device-page [data-op=rotate]').click()
    await page.locator('confirm-dialog [data-confirm]').click()
    await page.locator('device-page [data-new-secret] .secret').waitFor()
    t.ok(((await page.locator('device-page [data-new-secret] .secret').textContent()) ?? '').length > 10, 'the new secret is shown once')
    await page.screenshot({ path: `${SHOTS}/console-device-desktop.png`, fullPage: true })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.screenshot({ path: `${SHOTS}/console-device-desktop-dark.png`, fullPage: true })
    t.same(problems.list, [], 'no console error')
    await page.context().close()
  })

  t.test('a campaign\'s live progress', async t => {
    const { page, problems } = await newPage(browser)
    await signIn(page, hub, '/campaigns')
    await page.locator('campaigns-view details summary').click()
    await page.locator('campaigns-view input[name=name]').fill('List north')
    await page.locator('campaigns-view select[name=op]').selectOption('listProfiles')
    await page.locator('campaigns-view input[name=tags]').fill('north')
    await page.locator('campaigns-view button[type=submit]').click()
    const campaign = page.locator('campaigns-view [data-campaign]').first()
    await campaign.waitFor()
    t.match(await campaign.locator('[data-counts]').textContent() ?? '', /of 8 done/, 'it reaches the 8 devices tagged north')
    await campaign.locator('[data-action=pause]').click()
    await page.locator('campaigns-view [data-campaign-status=paused]').waitFor()
    t.pass('paused')
    await campaign.locator('[data-action=resume]').click()
    await page.locator('campaigns-view [data-campaign-status=running]').waitFor()
    t.pass('resumed')
    await campaign.locator('[data-action=cancel]').click()
    await page.locator('confirm-dialog [data-confirm]').click()
    await page.locator('campaigns-view [data-campaign-status=cancelled]').waitFor()
    t.pass('cancelled, after a confirmation')
    // a site with the tags: the devices tagged north at yard-7 (AND)
    const north = (await hub.api(token, 'GET', '/api/devices?tag=north')).body.items
    for (const device of north.slice(0, 2)) await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { site: 'yard-7' })
    await page.locator('campaigns-view input[name=name]').fill('List north at the yard')
    await page.locator('campaigns-view select[name=op]').selectOption('listProfiles')
    await page.locator('campaigns-view input[name=tags]').fill('north')
    await page.locator('campaigns-view input[name=site]').fill('yard-7')
    await page.locator('campaigns-view button[type=submit]').click()
    const atYard = page.locator('campaigns-view [data-campaign]', { hasText: 'List north at the yard' })
    await atYard.waitFor()
    t.match(await atYard.locator('[data-counts]').textContent() ?? '', /of 2 done/, 'tags and a site: the 2 devices tagged north at yard-7')
    const created = (await hub.api(token, 'GET', '/api/campaigns')).body.items.find((c: { name: string }) => c.name === 'List north at the yard')
    t.match(created.filter, { tags: ['north'], site: 'yard-7' }, 'the form sent both')
    await hub.api(token, 'POST', `/api/campaigns/${created.id}/cancel`)
    await page.screenshot({ path: `${SHOTS}/console-campaigns-live.png`, fullPage: true })
    t.same(problems.list, [], 'no console error')
    await page.context().close()
  })

  t.test('alerts: raised by real MQTT traffic, live in the view and the header, acknowledged in the UI', async t => {
    const { device, credentials } = await hub.createDevice(token, { name: 'Mast ၃', tags: ['alarm'] })
    const rule = await hub.api(token, 'POST', '/api/alert-rules', { name: 'Weak signal ၁', kind: 'metric', metric: 'rsrp', op: '<', threshold: -110, forSeconds: 0, severity: 'critical', filter: { tag: 'alarm' } })
    t.equal(rule.status, 201, 'a metric rule through the API')
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0, connectTimeout: 30_000 })
    t.teardown(() => client.endAsync(true))
    let seq = 0
    const publish = (sample: Record<string, number>) => client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: ++seq, ...sample }), { qos: 1 })

    const { page, problems } = await newPage(browser)
    await signIn(page, hub, '/alerts')
    await page.locator(`alerts-view [data-rule="${rule.body.id}"]`, { hasText: 'Weak signal ၁' }).waitFor()
    t.pass('the rule is listed')
    await page.locator('hub-app nav a[data-nav=alerts][data-open-alerts="0"]').waitFor()
    await page.locator('alerts-view [data-no-alerts]').waitFor()
    t.pass('nothing open yet')

    await publish({ rsrp: -121 })
    const row = page.locator('alerts-view tr[data-alert]', { hasText: 'Weak signal ၁' })
    await row.and(page.locator('[data-alert-state=open]')).waitFor()
    t.pass('the alert appears live (alert.raised over SSE), without a reload')
    await page.locator('hub-app nav a[data-nav=alerts][data-open-alerts="1"] .count', { hasText: '1' }).waitFor()
    t.pass('the header counts it')
    const link = row.locator('a', { hasText: 'Mast ၃' })
    t.equal(await link.getAttribute('href'), `/devices/${device.id}`, 'the device, by name, links to its page')
    t.match(await row.textContent() ?? '', /-121/, 'with the value that raised it')
    await page.screenshot({ path: `${SHOTS}/console-alerts-desktop.png`, fullPage: true })

    await row.locator('[data-ack]').click()
    await row.and(page.locator('[data-alert-state=acknowledged]')).waitFor()
    t.pass('acknowledged in the UI: its state changes in place')
    await page.locator('hub-app nav a[data-nav=alerts][data-open-alerts="0"]').waitFor()
    t.pass('and the header count goes down')
    const stored = await hub.api(token, 'GET', `/api/alerts?ruleId=${rule.body.id}`)
    t.match(stored.body.items, [{ state: 'acknowledged' }], 'the hub has it acknowledged')

    await publish({ rsrp: -95 })
    await row.and(page.locator('[data-alert-state=resolved]')).waitFor()
    t.pass('resolved live when the signal recovers (alert.resolved)')
    await publish({ rsrp: -125 })
    await page.locator('alerts-view tr[data-alert][data-alert-state=open]', { hasText: 'Weak signal ၁' }).waitFor()
    await page.locator('hub-app nav a[data-nav=alerts][data-open-alerts="1"]').waitFor()
    t.pass('a new episode is a new open alert')

    await page.locator('alerts-view [data-tab=all]').click()
    await page.locator('alerts-view tr[data-alert]').nth(1).waitFor()
    t.equal(new URL(page.url()).search, '?state=all', 'the tab is in the URL')
    await page.locator('alerts-view [data-tab=resolved]').click()
    await page.locator('alerts-view tr[data-alert][data-alert-state=resolved]').waitFor()
    t.equal(await page.locator('alerts-view tr[data-alert][data-alert-state=open]').count(), 0, 'the resolved tab lists resolved alerts only')

    // rules from the form: create, switch off (PATCH), delete after a confirmation
    await page.locator('alerts-view [data-rules] details summary').click()
    await page.locator('alerts-view [data-rules] input[name=name]').fill('Silent ၂')
    await page.locator('alerts-view [data-rules] select[name=kind]').selectOption('offline')
    await page.locator('alerts-view [data-rules] input[name=forSeconds]').fill('600')
    await page.locator('alerts-view [data-rules] input[name=tag]').fill('alarm')
    await page.locator('alerts-view [data-rules]').screenshot({ path: `${SHOTS}/console-alerts-rule-form.png` })
    await page.locator('alerts-view [data-rules] button[type=submit]').click()
    const created = page.locator('alerts-view tr[data-rule]', { hasText: 'Silent ၂' })
    await created.waitFor()
    const rules = (await hub.api(token, 'GET', '/api/alert-rules')).body.items
    t.match(rules.find((r: { name: string }) => r.name === 'Silent ၂'), { kind: 'offline', forSeconds: 600, filter: { tag: 'alarm' }, enabled: true }, 'a rule created from the form')
    await created.locator('input[type=checkbox]').uncheck()
    await eventually('the rule switched off', async () => (await hub.api(token, 'GET', '/api/alert-rules')).body.items.find((r: { name: string }) => r.name === 'Silent ၂')?.enabled === false)
    t.pass('switched off from its checkbox (PATCH)')
    await created.locator('[data-delete]').click()
    await page.locator('confirm-dialog [data-confirm]').click()
    await created.waitFor({ state: 'detached' })
    t.notOk((await hub.api(token, 'GET', '/api/alert-rules')).body.items.some((r: { name: string }) => r.name === 'Silent ၂'), 'deleted after a confirmation')
    t.same(problems.list, [], 'no console error')
    await page.context().close()

    // the view with open, acknowledged and resolved alerts, in both languages, desktop and phone
    for (const [name, options] of [
      ['desktop-all', {}], ['desktop-my', {}], ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
      ['phone-my', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }]
    ] as const) {
      const shot = await newPage(browser, options)
      if (name.endsWith('-my')) await shot.page.addInitScript(() => localStorage.setItem('euicc-hub.locale', 'my'))
      await signIn(shot.page, hub, '/alerts?state=all')
      await shot.page.locator('alerts-view tr[data-alert]').nth(1).waitFor()
      await shot.page.locator(`alerts-view [data-rule="${rule.body.id}"]`).waitFor()
      await shot.page.evaluate(() => document.fonts.ready)
      const overflow = await shot.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      t.ok(overflow <= 0, `${name}: no horizontal scroll (${overflow} px)`)
      await shot.page.screenshot({ path: `${SHOTS}/console-alerts-${name}.png`, fullPage: true })
      t.same(shot.problems.list, [], `${name}: no console error`)
      await shot.page.context().close()
    }

    // usage against the plan on the device page, from the counters the device reports
    const plan = await hub.api(token, 'POST', '/api/plans', { name: 'IoT 10 MB', quotaBytes: 10_000_000, period: 'month' })
    t.equal((await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { planId: plan.body.id })).status, 200)
    await publish({ rsrp: -100, bytesUp: 1_000_000, bytesDown: 2_000_000 })
    const usagePage = await newPage(browser)
    await signIn(usagePage.page, hub, `/devices/${device.id}`)
    await usagePage.page.locator('device-page [data-plan-usage]', { hasText: 'IoT 10 MB' }).waitFor()
    t.match(await usagePage.page.locator('device-page [data-plan-usage]').textContent() ?? '', /3 MB used \(30 %\)/, 'used against the quota')
    await publish({ rsrp: -100, bytesUp: 2_000_000, bytesDown: 3_000_000 })
    await usagePage.page.locator('device-page [data-plan-usage]', { hasText: '5 MB used (50 %)' }).waitFor()
    t.pass('and again, live, when the counters move')
    t.equal(await usagePage.page.locator('device-page [data-usage-row]').count(), 1, 'one day of usage')
    await usagePage.page.locator('device-page [data-usage-period=month]').click()
    await usagePage.page.locator('device-page [data-usage-period=month][aria-pressed=true]').waitFor()
    await usagePage.page.locator('device-page [data-usage-row]').first().waitFor()
    t.pass('per month')
    await usagePage.page.locator('device-page [data-usage]').screenshot({ path: `${SHOTS}/console-device-usage.png` })
    t.same(usagePage.problems.list, [], 'no console error')
    await usagePage.page.context().close()
  })

  t.test('a gateway: created with its credentials shown once, deleted after a confirmation', async t => {
    const { page, problems } = await newPage(browser)
    await signIn(page, hub, '/sites')
    await page.locator('sites-view details summary').click()
    await page.locator('sites-view input[name=name]').fill('Bridge ၁')
    await page.locator('sites-view input[name=site]').fill('yard-7')
    await page.locator('sites-view button[type=submit]').click()
    const secret = page.locator('sites-view [data-gateway-secret]')
    await secret.waitFor()
    const id = (await secret.locator('[data-gateway-id]').textContent() ?? '').trim()
    const password = (await secret.locator('.secret').textContent() ?? '').trim()
    t.ok(id.length > 0 && password.length > 10, 'its id and secret')
    const conf = await secret.locator('[data-mosquitto-conf]').textContent() ?? ''
    t.match(conf, `remote_clientid ${id}\nremote_username ${id}\nremote_password ${password}`, 'the mosquitto.conf lines with GATEWAY_ID and GATEWAY_SECRET filled in')
    t.match(conf, '{{HUB_ADDRESS}}', 'the hub\'s address left to fill')
    const listed = (await hub.api(token, 'GET', '/api/gateways')).body.items
    t.match(listed, [{ id, name: 'Bridge ၁', site: 'yard-7' }], 'the hub has it')
    const row = page.locator(`sites-view [data-site="yard-7"] [data-gateway="${id}"]`, { hasText: 'Bridge ၁' })
    await row.waitFor()
    t.pass('listed under its site')
    await page.screenshot({ path: `${SHOTS}/console-sites-gateway.png`, fullPage: true })
    await secret.getByRole('button').click()
    await secret.waitFor({ state: 'detached' })
    t.pass('the secret can be put away')
    await row.locator('[data-delete]').click()
    await page.locator('confirm-dialog dialog[open]').waitFor()
    await page.locator('confirm-dialog [data-confirm]').click()
    await row.waitFor({ state: 'detached' })
    t.same((await hub.api(token, 'GET', '/api/gateways')).body.items, [], 'deleted after a confirmation')
    t.same(problems.list, [], 'no console error')
    await page.context().close()
  })

  // last: it stops the hub
  t.test('with the hub stopped, the page says so and no device shows online', async t => {
    const { page } = await newPage(browser)
    await signIn(page, hub)
    const client = (await import('mqtt')).default
    const creds = await hub.api(token, 'POST', `/api/devices/${named.device.id}/credentials/rotate`)
    const mqtt = await client.connectAsync(hub.mqttUrl, { clientId: creds.body.clientId, username: creds.body.username, password: creds.body.password, reconnectPeriod: 0 })
    await page.locator(`fleet-table [data-device-id="${named.device.id}"][data-status=online]`).waitFor()
    await page.locator('fleet-summary [data-figure=online] strong', { hasText: '1' }).waitFor()
    t.pass('a connected device shows online, and is counted')
    mqtt.stream.destroy()
    await hub.close()
    await page.locator('live-banner [data-stale-banner]').waitFor()
    t.pass('the page says the live updates are down')
    await page.locator(`fleet-table [data-device-id="${named.device.id}"][data-status=stale]`).waitFor()
    t.equal(await page.locator('fleet-table [data-status=online]').count(), 0, 'no device shows online')
    t.equal(await page.locator('fleet-summary [data-figure=online]').count(), 0, 'the header no longer counts devices online')
    const total = await page.locator('fleet-summary [data-figure=total] strong').textContent()
    t.equal(await page.locator('fleet-summary [data-figure=stale] strong').textContent(), total, 'it counts them all as stale')
    await page.screenshot({ path: `${SHOTS}/console-fleet-stale.png` })
  })
})
