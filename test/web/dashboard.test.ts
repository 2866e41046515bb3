// The dashboard in a real browser against a real hub: sign-in, the live fleet table, escaping, 401.
import t from 'tap'
import mqtt from 'mqtt'
import { chromium, type Page } from 'playwright-core'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildWeb } from '../../web/build.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { createTestPki } from '../../esim/test-pki.ts'
import { euiccOf, notificationMessage, trustDir } from '../helpers/euicc-fixtures.ts'
import { startTestHub } from '../helpers/test-hub.ts'

const GZIP_BUDGET_BYTES = 80 * 1024
const XSS_NAME = '<img src=x onerror=alert(1)>'
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

t.test('the dashboard bundle stays within 80 KB of gzipped JavaScript', async t => {
  const outdir = await mkdtemp(join(tmpdir(), 'euicc-hub-web-'))
  t.teardown(() => rm(outdir, { recursive: true, force: true }))
  const { entry, rawBytes, gzipBytes, totalGzipBytes } = await buildWeb({ outdir })
  t.ok(totalGzipBytes <= GZIP_BUDGET_BYTES, `all JavaScript, the lazily loaded charts included: ${totalGzipBytes} bytes gzipped (the entry ${gzipBytes}, ${rawBytes} raw), budget ${GZIP_BUDGET_BYTES}`)
  t.ok((await stat(join(outdir, entry + '.map'))).size > 0, 'the source map is a separate file')
  const index = await readFile(join(outdir, 'index.html'), 'utf8')
  t.match(index, /<script type="module" src="\/assets\/app-[A-Z0-9]+\.js"><\/script>/, 'index.html loads the hashed entry as a module')
  t.notMatch(index, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script (strict CSP)')
  t.notMatch(index, /\sstyle=|<style/, 'no inline style')
})

t.test('a signed-in user sees the fleet and its live updates', async t => {
  await buildWeb() // the hub serves web/dist, and lists its files when it starts
  const pki = createTestPki() // a hub that verifies the device's eUICC notifications
  const hub = await startTestHub(t, { env: { HUB_EUICC_TRUST_DIR: trustDir(t, [pki.ci.certificateDer]) } })
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token, { name: 'Meter 1', tags: ['field'], eid: pki.eid })
  const xss = await hub.createDevice(token, { name: XSS_NAME, tags: ['<b>bold</b>'] })

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  page.setDefaultTimeout(15_000)
  const problems = watchForProblems(page)
  let deviceListRequests = 0
  page.on('request', request => {
    if (request.method() === 'GET' && new URL(request.url()).pathname === '/api/devices') deviceListRequests++
  })

  await page.goto(hub.httpUrl)
  await page.getByLabel('Password').fill('not the password')
  await page.getByLabel('Email').fill(hub.admin.email)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor()
  t.pass('a wrong password is refused on the form')

  await page.getByLabel('Password').fill(hub.admin.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  const row = page.locator(`[data-device-id="${device.id}"]`)
  await row.waitFor()
  t.equal(await row.locator('[data-col=name]').textContent(), 'Meter 1', 'the device created through the API is listed')
  t.equal(await row.getAttribute('data-status'), 'offline', 'it is offline before it connects')
  t.equal(await row.locator('[data-col=tags]').textContent(), 'field', 'with its tags')
  t.equal(await row.locator('[data-col=notifications]').textContent(), '—', 'and no notification yet')
  await page.locator('fleet-summary [data-figure=total]', { hasText: '2' }).waitFor()

  const xssRow = page.locator(`[data-device-id="${xss.device.id}"]`)
  t.equal(await xssRow.locator('[data-col=name]').textContent(), XSS_NAME, 'a name with markup renders as text')
  t.equal(await xssRow.locator('[data-col=tags]').textContent(), '<b>bold</b>', 'so does a tag')
  t.equal(await page.locator('fleet-table img, fleet-table b').count(), 0, 'no element was made from them')

  await page.locator('fleet-summary .live.open').waitFor()
  t.pass('the event stream is open')

  const client = await mqtt.connectAsync(hub.mqttUrl, {
    clientId: credentials.clientId,
    username: credentials.username,
    password: credentials.password,
    reconnectPeriod: 0
  })
  t.teardown(() => client.endAsync(true))
  await page.locator(`[data-device-id="${device.id}"][data-status="online"]`).waitFor()
  t.pass('its row turns online when the device connects')

  const listedBefore = deviceListRequests
  await client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -95, rat: 'LTE' }), { qos: 1 })
  await row.locator('[data-col=rsrp]', { hasText: '-95' }).waitFor()
  t.equal(await row.locator('[data-col=rat]').textContent(), 'LTE', 'the telemetry appears in the row')
  t.equal(deviceListRequests, listedBefore, 'without reloading the list')

  const euicc = euiccOf(pki)
  const notifications = row.locator('[data-col=notifications]')
  await client.publishAsync(`devices/${device.id}/notifications`, notificationMessage(euicc.notification(1, 'enable', iccidForPrefix('899501', 1))), { qos: 1 })
  await notifications.locator('[data-last=accepted]', { hasText: 'enable #1' }).waitFor()
  t.equal((await notifications.textContent())?.replace(/\s+/g, ' ').trim(), '✓ 1 enable #1', 'a verified notification appears in the row: one accepted, the last one')
  t.equal(await notifications.locator('[data-count=rejected]').count(), 0, 'no rejected count while none was rejected')
  const forged = euicc.notification(2, 'disable', iccidForPrefix('899501', 1))
  forged[forged.indexOf(Buffer.from([0x5f, 0x37, 0x40])) + 10] ^= 0xff
  await client.publishAsync(`devices/${device.id}/notifications`, notificationMessage(forged), { qos: 1 })
  await notifications.locator('[data-last=rejected]', { hasText: 'rejected: bad-signature' }).waitFor()
  t.equal((await notifications.textContent())?.replace(/\s+/g, ' ').trim(), '✓ 1 ✗ 1 rejected: bad-signature', 'a forged one is counted as rejected, with its reason')
  t.equal(await notifications.locator('.count-rejected').evaluate(el => getComputedStyle(el).color), await page.evaluate(() => {
    const probe = document.createElement('span')
    probe.style.color = 'var(--hub-danger)'
    document.body.append(probe)
    const color = getComputedStyle(probe).color
    probe.remove()
    return color
  }), 'the rejected count is marked in the danger colour')
  t.equal(deviceListRequests, listedBefore, 'still without reloading the list')

  const late = await hub.createDevice(token, { name: 'Added later' })
  await page.locator(`[data-device-id="${late.device.id}"]`).waitFor()
  t.pass('a device created meanwhile appears')

  await client.endAsync()
  await page.locator(`[data-device-id="${device.id}"][data-status="offline"]`).waitFor()
  t.pass('its row turns offline when the device disconnects')

  await page.reload()
  await row.locator('[data-col=rsrp]', { hasText: '-95' }).waitFor()
  t.pass('a reload keeps the user signed in and shows the stored telemetry')
  t.equal((await row.locator('[data-col=notifications]').textContent())?.replace(/\s+/g, ' ').trim(), '✓ 1 ✗ 1 rejected: bad-signature', 'and the stored notifications')

  const spoilToken = () => page.evaluate(() => {
    const key = 'euicc-hub.session'
    const session = JSON.parse(sessionStorage.getItem(key) ?? '{}')
    sessionStorage.setItem(key, JSON.stringify({ ...session, accessToken: 'expired' }))
  })
  await spoilToken()
  await page.reload()
  await row.locator('[data-col=rsrp]', { hasText: '-95' }).waitFor()
  t.pass('an expired access token is renewed with the refresh cookie')

  await spoilToken()
  await page.context().clearCookies()
  await page.reload()
  await page.getByRole('button', { name: 'Sign in' }).waitFor()
  t.equal(await page.locator('fleet-table').count(), 0, 'a 401 with no session left takes the user back to sign-in')

  t.same(problems, [], 'no page error, script dialog or CSP violation')
})

/** Page errors, script dialogs (an XSS would open one) and CSP violations. */
function watchForProblems (page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', err => problems.push(`page error: ${err.message}`))
  page.on('dialog', dialog => {
    problems.push(`dialog: ${dialog.message()}`)
    dialog.dismiss().catch(() => {})
  })
  page.on('console', message => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) problems.push(message.text())
  })
  return problems
}
