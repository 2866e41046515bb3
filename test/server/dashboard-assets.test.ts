import t from 'tap'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { buildWeb } from '../../web/build.ts'
import { startTestHub } from '../helpers/test-hub.ts'

const YEAR_IMMUTABLE = 'public, max-age=31536000, immutable'

/** The raw bytes of one answer (no decoding by the client), with its headers. */
function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    }).on('error', reject)
  })
}

// DESIGN "Dashboard": its assets are served compressed with long-lived caching, and no source map is public.
t.test('the dashboard\'s assets: hashed names, compressed, a year of caching, no public source map', async (t) => {
  const { outdir, entry } = await buildWeb() // the hub serves web/dist
  const hub = await startTestHub(t)
  const indexHtml = await readFile(join(outdir, 'index.html'), 'utf8')
  const css = /href="(\/assets\/app-[0-9a-f]{10}\.css)"/.exec(indexHtml)?.[1]
  t.match(entry, /^\/assets\/app-[A-Z0-9]{8}\.js$/, 'the entry script has a content-hashed name')
  t.ok(indexHtml.includes(`<script type="module" src="${entry}"></script>`), 'index.html names it')
  t.ok(css !== undefined, 'and the hashed stylesheet')
  const js = await readFile(join(outdir, entry))
  t.notMatch(js.toString(), /sourceMappingURL/, 'the script names no source map')

  const br = await get(hub.httpUrl + entry, { 'accept-encoding': 'gzip, deflate, br' })
  t.equal(br.status, 200)
  t.equal(br.headers['content-encoding'], 'br', 'brotli when the browser takes it')
  t.match(br.headers['content-type'], /javascript/, 'with the type of the script')
  t.match(br.headers.vary, /accept-encoding/i, 'varying by Accept-Encoding')
  t.equal(br.headers['cache-control'], YEAR_IMMUTABLE, 'cached for a year, immutable')
  t.ok(br.body.byteLength < js.byteLength / 2, `smaller: ${br.body.byteLength} of ${js.byteLength} bytes`)
  t.ok(brotliDecompressSync(br.body).equals(js), 'and decompresses to the script')

  const gz = await get(hub.httpUrl + entry, { 'accept-encoding': 'gzip' })
  t.equal(gz.headers['content-encoding'], 'gzip', 'gzip otherwise')
  t.equal(gz.headers['cache-control'], YEAR_IMMUTABLE)
  t.ok(gunzipSync(gz.body).equals(js), 'decompressing to the script')

  const identity = await get(hub.httpUrl + entry)
  t.equal(identity.headers['content-encoding'], undefined, 'uncompressed to a client that asks for nothing')
  t.match(identity.headers.vary, /accept-encoding/i, 'still varying by Accept-Encoding')
  t.equal(identity.headers['cache-control'], YEAR_IMMUTABLE)
  t.ok(identity.body.equals(js))

  const stylesheet = await get(hub.httpUrl + css, { 'accept-encoding': 'br' })
  t.equal(stylesheet.headers['content-encoding'], 'br', 'the stylesheet too')
  t.equal(stylesheet.headers['cache-control'], YEAR_IMMUTABLE)
  const font = /url\((\/assets\/noto-sans-myanmar-myanmar-400-normal-[0-9a-f]{10}\.woff2)\)/.exec(brotliDecompressSync(stylesheet.body).toString())?.[1]
  t.ok(font !== undefined, 'which names the font by its hashed name')
  const fontAnswer = await get(hub.httpUrl + font, { 'accept-encoding': 'br, gzip' })
  t.equal(fontAnswer.status, 200, 'served')
  t.equal(fontAnswer.headers['content-encoding'], undefined, 'as it is (woff2 is compressed already)')
  t.equal(fontAnswer.headers['cache-control'], YEAR_IMMUTABLE)

  for (const path of ['/', '/admin/users', '/campaigns']) {
    const index = await get(hub.httpUrl + path, { 'accept-encoding': 'br' })
    t.equal(index.status, 200)
    t.equal(index.headers['content-encoding'], 'br', `${path}: the page, compressed`)
    t.match(index.headers['content-type'], /text\/html/)
    t.match(index.headers.vary, /accept-encoding/i)
    t.equal(index.headers['cache-control'], 'no-cache', `${path}: revalidated on each load`)
    t.equal(brotliDecompressSync(index.body).toString(), indexHtml)
  }

  const maps = (await readdir(join(outdir, 'assets'))).filter(name => name.endsWith('.map'))
  t.ok(maps.length > 0, 'the source maps exist (for the operator)')
  for (const path of [`${entry}.map`, `${entry}.map?x=1`, `${entry.replace('/app-', '/%61pp-')}.map`, `/assets/${maps.find(name => !name.startsWith('app-')) ?? maps[0]}`, '/.assets.json']) {
    const map = await get(hub.httpUrl + path, { 'accept-encoding': 'br, gzip' })
    t.equal(map.status, 404, `${path} is not served`)
  }
})

t.test('old hashed assets do not pile up: the previous build\'s are kept, older ones removed', async (t) => {
  const outdir = await mkdtemp(join(tmpdir(), 'euicc-hub-web-'))
  t.teardown(() => rm(outdir, { recursive: true, force: true }))
  await mkdir(join(outdir, 'assets'))
  await mkdir(join(outdir, 'chunks'))
  for (const name of ['assets/app-OLDOLD00.js', 'assets/app-PREVIOUS.js', 'assets/app-PREVIOUS.js.br', 'app.js', 'app.js.map', 'chunks/charts-X.js']) {
    await writeFile(join(outdir, name), 'x')
  }
  await writeFile(join(outdir, '.assets.json'), JSON.stringify(['app-PREVIOUS.js', 'app-PREVIOUS.js.br']))
  const { entry } = await buildWeb({ outdir })
  const first = await readdir(join(outdir, 'assets'))
  t.ok(first.includes(entry.slice('/assets/'.length)), 'this build\'s assets are there')
  t.ok(first.includes('app-PREVIOUS.js') && first.includes('app-PREVIOUS.js.br'), 'the previous build\'s are kept')
  t.notOk(first.includes('app-OLDOLD00.js'), 'an older one is removed')
  const top = await readdir(outdir)
  t.notOk(top.includes('app.js') || top.includes('app.js.map') || top.includes('chunks'), 'so is what the unhashed layout left')

  await buildWeb({ outdir })
  const second = await readdir(join(outdir, 'assets'))
  t.notOk(second.includes('app-PREVIOUS.js'), 'a build later, the one before the previous is gone')
  t.same(second.sort(), first.filter(name => !name.startsWith('app-PREVIOUS')).sort(), 'and an unchanged build writes the same names')
})
