import t from 'tap'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { buildWeb } from '../../web/build.ts'
import { startTestHub } from '../helpers/test-hub.ts'

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

// DESIGN "Dashboard": its JavaScript is served compressed, and no source map is public.
t.test('the dashboard\'s assets: compressed, no public source map', async (t) => {
  const { outdir } = await buildWeb() // the hub serves web/dist
  const hub = await startTestHub(t)
  const js = await readFile(join(outdir, 'app.js'))
  t.notMatch(js.toString(), /sourceMappingURL/, 'app.js names no source map')

  const br = await get(hub.httpUrl + '/app.js', { 'accept-encoding': 'gzip, deflate, br' })
  t.equal(br.status, 200)
  t.equal(br.headers['content-encoding'], 'br', 'brotli when the browser takes it')
  t.match(br.headers['content-type'], /javascript/, 'with the type of the script')
  t.match(br.headers.vary, /accept-encoding/i, 'varying by Accept-Encoding')
  t.ok(br.body.byteLength < js.byteLength / 2, `smaller: ${br.body.byteLength} of ${js.byteLength} bytes`)
  t.ok(brotliDecompressSync(br.body).equals(js), 'and decompresses to app.js')

  const gz = await get(hub.httpUrl + '/app.js', { 'accept-encoding': 'gzip' })
  t.equal(gz.headers['content-encoding'], 'gzip', 'gzip otherwise')
  t.ok(gunzipSync(gz.body).equals(js), 'decompressing to app.js')

  const identity = await get(hub.httpUrl + '/app.js')
  t.equal(identity.headers['content-encoding'], undefined, 'uncompressed to a client that asks for nothing')
  t.ok(identity.body.equals(js))

  const css = await get(hub.httpUrl + '/app.css', { 'accept-encoding': 'br' })
  t.equal(css.headers['content-encoding'], 'br', 'the stylesheet too')
  const index = await get(hub.httpUrl + '/', { 'accept-encoding': 'br' })
  t.equal(index.status, 200)
  t.equal(index.headers['content-encoding'], 'br', 'and the page')
  t.match(index.headers['content-type'], /text\/html/)

  for (const path of ['/app.js.map', '/app.js.map?x=1', '/%61pp.js.map']) {
    const map = await get(hub.httpUrl + path, { 'accept-encoding': 'br, gzip' })
    t.equal(map.status, 404, `${path} is not served`)
  }
})
