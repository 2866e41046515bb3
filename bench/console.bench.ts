import { chromium, type Page } from 'playwright-core'
import postgres from 'postgres'
import { buildWeb } from '../web/build.ts'
import { BENCH_POSTGRES_URL, benchDatabases, startBenchHub } from './bench-hub.ts'
import { boundCheck, printLine } from './bench-line.ts'
import { loadFleet } from './fleet-load.ts'

/** The operations console with a large fleet, in Chromium (Debian's /usr/bin/chromium, headless,
 * 1440×900) against a hub on Postgres: DEVICES devices (100,000 unless BENCH_CONSOLE_DEVICES says
 * otherwise) bulk-loaded with PER_DEVICE telemetry samples each (bench/fleet-load.ts, as api-latency
 * loads them). Signed in once, then measured over RUNS fresh loads of the fleet page: the time from
 * navigation to the first fleet rows on screen (the page's own clock, performance.now(), when a row
 * exists in the virtualized list), and, once the whole fleet is loaded, the frame times while the list
 * scrolls (requestAnimationFrame deltas over FRAMES frames, 120 px a frame: p50/p95/p99). The same run
 * measures the same with REFERENCE devices (1,000) first, on its own hub and database. Targets: first
 * rows within 1 s, p95 frame ≤ 50 ms. One JSON line. */
const DEVICES = Number(process.env.BENCH_CONSOLE_DEVICES ?? 100_000)
const REFERENCE = Number(process.env.BENCH_CONSOLE_REFERENCE ?? 1000)
const PER_DEVICE = Number(process.env.BENCH_CONSOLE_SAMPLES ?? 10)
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 3)
const FRAMES = Number(process.env.BENCH_CONSOLE_FRAMES ?? 300)
const TARGET_FIRST_ROWS_MS = 1000
const TARGET_P95_FRAME_MS = 50
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** In the page (an init script, so its source is as written): `selector` in the shadow root of the first
 * `host` element, looked for through every shadow root. */
const DEEP_FIND = `(host, selector) => {
  const roots = [document]
  for (let root = roots.pop(); root; root = roots.pop()) {
    const found = root.querySelector(host)
    if (found) return found.shadowRoot && found.shadowRoot.querySelector(selector)
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot)
  }
  return null
}`

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 0.5)

interface Timings { devices: number, firstRowsMs: number, firstRowsRuns: number[], fleetLoadedMs: number, frames: { count: number, p50Ms: number, p95Ms: number, p99Ms: number, maxMs: number }, load: unknown }

async function measure (devices: number): Promise<Timings> {
  const bench = await startBenchHub({}, postgresDb.serverUrl)
  const sql = postgres(bench.databaseUrl, { max: 1, onnotice: () => {} })
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  try {
    const load = await loadFleet(sql, bench.databaseUrl, bench.tenantId, { devices, perDevice: PER_DEVICE })
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
    page.setDefaultTimeout(120_000)
    // init scripts are not held to the page's CSP; __name: the helper tsx's output calls in page functions
    await page.addInitScript(`window.__deepFind = ${DEEP_FIND}; window.__name = f => f`)
    await page.goto(bench.hub.httpUrl)
    await page.locator('sign-in-form input[name=email]').fill('admin@localhost')
    await page.locator('sign-in-form input[name=password]').fill('bench-admin-password')
    await page.locator('sign-in-form button[type=submit]').click()
    await page.locator('fleet-table [data-device-id]').first().waitFor()
    const firstRowsRuns: number[] = []
    let fleetLoadedMs = 0
    for (let run = 0; run < RUNS; run++) {
      await page.reload({ waitUntil: 'commit' })
      firstRowsRuns.push(await pageClockWhen(page, '[data-device-id]'))
      fleetLoadedMs = await pageClockWhen(page, '.count', `${devices.toLocaleString('en')} devices`)
    }
    const frames = await scrollFrames(page)
    return { devices, firstRowsMs: median(firstRowsRuns), firstRowsRuns, fleetLoadedMs, frames, load }
  } finally {
    await browser.close()
    await sql.end({ timeout: 2 })
    await bench.close()
  }
}

/** The page's clock (ms since its navigation) when an element of the fleet table matching `selector`
 * (with `text` in its text, if given) first exists, read by a check on every animation frame. */
async function pageClockWhen (page: Page, selector: string, text?: string): Promise<number> {
  const handle = await page.waitForFunction(({ selector, text }) => {
    const el = (window as unknown as { __deepFind: (host: string, selector: string) => Element | null }).__deepFind('fleet-table', selector)
    return el !== null && (text === '' || (el.textContent ?? '').includes(text)) ? performance.now() : false
  }, { selector, text: text ?? '' }, { polling: 'raf', timeout: 180_000 })
  return Number(Number(await handle.jsonValue()).toFixed(1))
}

/** Scrolls the fleet list by 120 px a frame for FRAMES frames; the deltas between frames, sorted. */
async function scrollFrames (page: Page): Promise<Timings['frames']> {
  const deltas = await page.evaluate((frames) => new Promise<number[]>(resolve => {
    const list = (window as unknown as { __deepFind: (host: string, selector: string) => Element }).__deepFind('fleet-table', '.scroll')
    const deltas: number[] = []
    let last = 0
    const step = (now: number) => {
      if (last > 0) deltas.push(now - last)
      last = now
      list.scrollTop += 120
      if (deltas.length < frames) requestAnimationFrame(step)
      else resolve(deltas)
    }
    requestAnimationFrame(step)
  }), FRAMES)
  const sorted = [...deltas].sort((a, b) => a - b)
  const round = (n: number) => Number(n.toFixed(1))
  return { count: sorted.length, p50Ms: round(percentile(sorted, 0.5)), p95Ms: round(percentile(sorted, 0.95)), p99Ms: round(percentile(sorted, 0.99)), maxMs: round(sorted.at(-1) ?? 0) }
}

const postgresDb = (await benchDatabases()).find((d) => d.name === 'postgres') ?? { name: 'postgres' as const, serverUrl: BENCH_POSTGRES_URL, unavailable: undefined }
const details = { database: 'postgres', devices: DEVICES, samplesPerDevice: PER_DEVICE, referenceDevices: REFERENCE, runs: RUNS }
if (postgresDb.unavailable !== undefined) {
  printLine('console', { ...details, skipped: postgresDb.unavailable }, [])
} else {
  const { totalGzipBytes } = await buildWeb() // the hub serves web/dist
  const reference = await measure(REFERENCE)
  const fleet = await measure(DEVICES)
  printLine('console', { ...details, bundleGzipBytes: totalGzipBytes, fleet, reference }, [
    { ...boundCheck('firstRowsMs', fleet.firstRowsMs, 'ms', TARGET_FIRST_ROWS_MS), reference: `${REFERENCE} devices`, referenceValue: reference.firstRowsMs },
    { ...boundCheck('p95FrameMs', fleet.frames.p95Ms, 'ms', TARGET_P95_FRAME_MS), reference: `${REFERENCE} devices`, referenceValue: reference.frames.p95Ms }
  ])
}
