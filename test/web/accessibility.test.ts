// The console by keyboard in real Chromium against a real hub: Tab through the fleet to a device's page,
// run an operation with the keyboard and see the device's answer; a visible focus ring; and every
// control of every view has an accessible name.
import t from 'tap'
import { chromium, type Page } from 'playwright-core'
import { buildWeb } from '../../web/build.ts'
import { lpaDevice } from '../commands/helpers.ts'
import { startTestHub } from '../helpers/test-hub.ts'

const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** The focused element, through shadow roots: its tag, text, and whether its focus is drawn. */
function focused (page: Page) {
  return page.evaluate(() => {
    let el: Element | null = document.activeElement
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement
    if (!el) return null
    const style = getComputedStyle(el)
    const host = (el.getRootNode() as ShadowRoot).host?.localName ?? ''
    return { tag: el.localName, host, text: (el.textContent ?? '').trim(), op: el.getAttribute('data-op'), ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1 }
  })
}

/** Every visible input, select, textarea and button of the page, shadow roots included, without an
 * accessible name (aria-label, aria-labelledby, a label, or a button's own text). */
function unnamed (page: Page) {
  return page.evaluate(() => {
    const missing: string[] = []
    // a stack, not a recursive function: the page gets this function's source, without tsx's helpers
    const roots: Array<Document | ShadowRoot> = [document]
    for (let root = roots.pop(); root !== undefined; root = roots.pop()) {
      for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) roots.push(el.shadowRoot)
        if (!['input', 'select', 'textarea', 'button'].includes(el.localName)) continue
        const html = el as HTMLInputElement
        if (html.type === 'hidden' || html.getClientRects().length === 0) continue
        const named = (el.getAttribute('aria-label') ?? '').trim() !== '' ||
          (el.getAttribute('aria-labelledby') ?? '') !== '' ||
          [...(html.labels ?? [])].some(label => (label.textContent ?? '').trim() !== '') ||
          (el.localName === 'button' && (el.textContent ?? '').trim() !== '') ||
          (el.getAttribute('title') ?? '').trim() !== ''
        if (!named) missing.push(`${(root as ShadowRoot).host?.localName ?? 'document'} ${el.outerHTML.slice(0, 120)}`)
      }
    }
    return missing
  })
}

/** Text whose colour against its background (the nearest opaque one, through shadow hosts) is below
 * 4.5:1 (WCAG AA for body text): each as 'host selector: ratio'. Disabled controls are exempt (WCAG). */
function lowContrast (page: Page) {
  return page.evaluate(() => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number)
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 })
      return 0.2126 * r + 0.7152 * g + 0.0722 * b
    }
    const found: string[] = []
    const roots: Array<Document | ShadowRoot> = [document]
    for (let root = roots.pop(); root !== undefined; root = roots.pop()) {
      for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) roots.push(el.shadowRoot)
        const text = [...el.childNodes].some(n => n.nodeType === 3 && (n.textContent ?? '').trim() !== '')
        if (!text || el.getClientRects().length === 0 || el.closest('[disabled], option, noscript, style, script')) continue
        const style = getComputedStyle(el)
        if (style.visibility === 'hidden' || parseFloat(style.opacity) < 0.1) continue
        let bg: number[] = [255, 255, 255, 1]
        for (let node: Element | null = el; node !== null;) {
          const c = rgb(getComputedStyle(node).backgroundColor)
          if ((c[3] ?? 1) > 0.5) { bg = c; break }
          node = node.parentElement ?? ((node.getRootNode() as ShadowRoot).host ?? null)
          if (node === null) bg = rgb(getComputedStyle(document.body).backgroundColor)
        }
        const [a, b] = [lum(rgb(style.color)), lum(bg)]
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
        if (ratio < 4.5) found.push(`${(root as ShadowRoot).host?.localName ?? 'document'} ${el.localName}.${[...el.classList].join('.')} "${(el.textContent ?? '').trim().slice(0, 30)}": ${ratio.toFixed(2)}`)
      }
    }
    return [...new Set(found)]
  })
}

t.test('the console by keyboard', async t => {
  await buildWeb()
  const hub = await startTestHub(t)
  const token = await hub.login()
  const sim = await lpaDevice(hub, token)
  t.teardown(() => sim.disconnect())
  await hub.api(token, 'PATCH', `/api/devices/${sim.id}`, { name: 'Keyboard pump' })
  await hub.createDevice(token, { name: 'Other meter' })
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
  page.setDefaultTimeout(15_000)
  // tsx names the functions these checks define inside page.evaluate with a helper the page lacks
  await page.addInitScript('globalThis.__name = f => f')
  const problems: string[] = []
  page.on('pageerror', err => problems.push(err.message))

  await page.goto(hub.httpUrl)
  await page.locator('sign-in-form input[name=email]').focus()
  await page.keyboard.type(hub.admin.email)
  await page.keyboard.press('Tab')
  await page.keyboard.type(hub.admin.password)
  await page.keyboard.press('Enter')
  await page.locator(`fleet-table [data-device-id="${sim.id}"]`).waitFor()
  t.pass('signed in by keyboard')

  // Tab from the top of the page until the device's name (a link in its row) has the focus
  let reached = false
  for (let i = 0; i < 60 && !reached; i++) {
    await page.keyboard.press('Tab')
    const now = await focused(page)
    if (now?.tag === 'a' && now.host === 'fleet-table' && now.text === 'Keyboard pump') {
      reached = true
      t.ok(now.ring, 'the focused row link shows a focus ring')
    }
  }
  t.ok(reached, 'Tab reaches the device in the fleet list')
  await page.keyboard.press('Enter')
  await page.locator('device-page [data-device-name]', { hasText: 'Keyboard pump' }).waitFor()
  t.equal(new URL(page.url()).pathname, `/devices/${sim.id}`, 'Enter opens its page')

  let onOperation = false
  for (let i = 0; i < 60 && !onOperation; i++) {
    await page.keyboard.press('Tab')
    const now = await focused(page)
    if (now?.op === 'listProfiles') {
      onOperation = true
      t.ok(now.ring, 'the focused operation shows a focus ring')
    }
  }
  t.ok(onOperation, 'Tab reaches the "list profiles" operation')
  await page.keyboard.press('Enter')
  await page.locator('device-page [data-command-status=succeeded]').waitFor()
  t.pass('Enter runs it, and the device\'s answer shows')

  for (const path of ['/', `/devices/${sim.id}`, '/campaigns', '/alerts', '/sites', '/admin/users', '/admin/api-keys', '/admin/tenants', '/admin/trust-anchors', '/admin/webhooks', '/admin/audit', '/admin/account']) {
    await page.goto(hub.httpUrl + path)
    await page.waitForLoadState('networkidle')
    for (const summary of await page.locator('details:not([open]) > summary').all()) await summary.click().catch(() => {})
    t.same(await unnamed(page), [], `${path}: every control has an accessible name`)
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme })
      t.same(await lowContrast(page), [], `${path}, ${scheme}: text contrast at least 4.5:1`)
    }
    await page.emulateMedia({ colorScheme: 'light' })
  }
  // the checks can fail: an input without a label, grey text on white
  await page.evaluate(() => {
    const faint = Object.assign(document.createElement('p'), { textContent: 'faint' })
    Object.assign(faint.style, { color: '#aaa', background: '#fff' }) // CSSOM: the CSP refuses style attributes
    document.body.append(Object.assign(document.createElement('input'), { id: 'probe-input' }), faint)
  })
  t.equal((await unnamed(page)).filter(m => m.includes('probe-input')).length, 1, 'an unlabelled input is found')
  t.equal((await lowContrast(page)).filter(m => m.includes('faint')).length, 1, 'faint text is found')
  t.same(problems, [], 'no page error')
})
