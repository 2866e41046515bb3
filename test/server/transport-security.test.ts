import t from 'tap'
import { request as httpsRequest } from 'node:https'
import { sql } from 'drizzle-orm'
import { HSTS_VALUE } from '../../server/transport-security.ts'
import { buildWeb } from '../../web/build.ts'
import { request, refreshCookie, type Answer } from '../helpers/hub-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { throwawayCertificate } from '../helpers/tls-certificate.ts'

// HUB_HTTPS_PORT (the same app over TLS), HUB_TRUST_PROXY (X-Forwarded-* from that proxy only): the
// refresh cookie is Secure and HSTS is sent exactly when the request came over TLS. HUB_METRICS_TOKEN.

/** One HTTPS request that trusts only `ca` (the certificate is verified, host name included). */
function tlsRequest (url: string, ca: string, options: { method?: string, body?: unknown, headers?: Record<string, string> } = {}): Promise<Answer & { text: string }> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  const headers: Record<string, string> = { ...options.headers }
  if (payload !== undefined) headers['content-type'] = 'application/json'
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: options.method ?? 'GET', headers, ca }, (res) => {
      let text = ''
      const done = () => {
        let body: unknown = text
        try { body = text === '' ? null : JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, ms: performance.now() - started })
      }
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', done)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** An SSE stream over HTTPS: open once the answer's headers are in; `waitFor` resolves when the text
 * received so far contains a string. */
function openTlsStream (url: string, ca: string) {
  return new Promise<{ status: number, headers: Answer['headers'], waitFor: (s: string) => Promise<void>, close: () => void }>((resolve, reject) => {
    const req = httpsRequest(url, { headers: { accept: 'text/event-stream' }, ca }, (res) => {
      let text = ''
      let waiters: Array<{ s: string, resolve: () => void }> = []
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        waiters = waiters.filter((w) => { if (!text.includes(w.s)) return true; w.resolve(); return false })
      })
      res.on('error', () => {})
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        waitFor: (s) => text.includes(s) ? Promise.resolve() : new Promise((resolve) => waiters.push({ s, resolve })),
        close: () => req.destroy()
      })
    })
    req.on('error', reject)
    req.end()
  })
}

const secureFlag = (answer: Answer) => {
  const line = (answer.headers['set-cookie'] ?? []).find((l) => l.startsWith('hub_refresh='))
  if (line === undefined) throw new Error('no refresh cookie in ' + JSON.stringify(answer.headers))
  return /;\s*Secure(;|$)/i.test(line)
}

t.test('HUB_HTTPS_PORT: the dashboard, the API and SSE over TLS; Secure cookie and HSTS over TLS only', async (t) => {
  await buildWeb() // the hub serves web/dist
  const tls = throwawayCertificate(t)
  const hub = await startTestHub(t, { env: { HUB_HTTPS_PORT: '0', HUB_TLS_CERT: tls.certFile, HUB_TLS_KEY: tls.keyFile } })
  t.ok(hub.httpsPort !== null && hub.httpsPort > 0, 'the hub reports its HTTPS port')
  t.equal(hub.httpsUrl, `https://127.0.0.1:${String(hub.httpsPort)}`)
  const base = hub.httpsUrl as string

  const page = await tlsRequest(base + '/', tls.certPem)
  t.equal(page.status, 200, 'the dashboard over HTTPS')
  t.match(page.text, /<script type="module" src="\/assets\/app-[\w-]+\.js"><\/script>/)
  t.equal(page.headers['strict-transport-security'], HSTS_VALUE, 'HSTS over HTTPS')
  const plainPage = await request(hub.httpUrl, 'GET', '/')
  t.equal(plainPage.status, 200)
  t.equal(plainPage.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP')

  const secure = await tlsRequest(base + '/api/auth/login', tls.certPem, { method: 'POST', body: hub.admin })
  t.equal(secure.status, 200, 'sign-in over HTTPS')
  t.ok(secureFlag(secure), 'the refresh cookie is Secure over HTTPS')
  t.equal(secure.headers['strict-transport-security'], HSTS_VALUE)
  const plain = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin })
  t.equal(plain.status, 200)
  t.notOk(secureFlag(plain), 'and not Secure over plain HTTP')
  t.equal(plain.headers['strict-transport-security'], undefined)

  const token = secure.body.accessToken as string
  const refreshed = await tlsRequest(base + '/api/auth/refresh', tls.certPem, { method: 'POST', headers: { cookie: `hub_refresh=${refreshCookie(secure) as string}`, origin: base } })
  t.equal(refreshed.status, 200, 'refresh over HTTPS, same-origin check on the https origin')
  t.ok(secureFlag(refreshed), 'the rotated cookie is Secure too')

  const devices = await tlsRequest(base + '/api/devices', tls.certPem, { headers: { authorization: 'Bearer ' + token } })
  t.equal(devices.status, 200, 'the API over HTTPS')
  const ticket = await tlsRequest(base + '/api/events/ticket', tls.certPem, { method: 'POST', headers: { authorization: 'Bearer ' + token } })
  t.equal(ticket.status, 200)
  const stream = await openTlsStream(`${base}/api/events?ticket=${ticket.body.ticket as string}`, tls.certPem)
  t.teardown(() => stream.close())
  t.equal(stream.status, 200, 'the event stream over HTTPS')
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  const { device } = await hub.createDevice(token, { name: 'over tls' })
  await stream.waitFor(`"id":"${device.id as string}"`)
  t.pass('it carries the tenant\'s events')
})

t.test('HUB_TRUST_PROXY: X-Forwarded-Proto and -For are honoured from the named proxy only', async (t) => {
  const proxy = '127.0.0.5'
  const hub = await startTestHub(t, { env: { HUB_TRUST_PROXY: proxy } })
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'hub.example.test' }
  const lastLoginIp = async () => {
    await hub.audit.flush()
    const [row] = await hub.database.rows<{ ip: string }>(sql`select ip from audit_log where action = 'auth.login' order by id desc limit 1`)
    return row.ip
  }

  const viaProxy = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin, headers: forwarded, from: proxy })
  t.equal(viaProxy.status, 200)
  t.ok(secureFlag(viaProxy), 'TLS at the trusted proxy: the cookie is Secure')
  t.equal(viaProxy.headers['strict-transport-security'], HSTS_VALUE, 'and HSTS is sent')
  t.equal(await lastLoginIp(), '203.0.113.9', 'the client address is the one the proxy forwarded')
  const refreshed = await request(hub.httpUrl, 'POST', '/api/auth/refresh', { headers: { ...forwarded, origin: 'https://hub.example.test', cookie: `hub_refresh=${refreshCookie(viaProxy) as string}` }, from: proxy })
  t.equal(refreshed.status, 200, 'the browser\'s https origin is the hub\'s own behind the proxy')

  const plainViaProxy = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin, headers: { 'x-forwarded-proto': 'http' }, from: proxy })
  t.notOk(secureFlag(plainViaProxy), 'the proxy says http: not Secure')
  t.equal(plainViaProxy.headers['strict-transport-security'], undefined, 'and no HSTS')

  const spoofed = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin, headers: forwarded, from: '127.0.0.6' })
  t.equal(spoofed.status, 200)
  t.notOk(secureFlag(spoofed), 'the same headers from another address are ignored: not Secure')
  t.equal(spoofed.headers['strict-transport-security'], undefined, 'no HSTS')
  t.equal(await lastLoginIp(), '127.0.0.6', 'and the address is the socket\'s, not the forwarded one')

  const untrusting = await startTestHub(t)
  const direct = await request(untrusting.httpUrl, 'POST', '/api/auth/login', { body: untrusting.admin, headers: forwarded, from: proxy })
  t.equal(direct.status, 200)
  t.notOk(secureFlag(direct), 'without HUB_TRUST_PROXY no forwarded header counts')
  t.equal(direct.headers['strict-transport-security'], undefined)
})

t.test('HUB_METRICS_TOKEN: /metrics needs the bearer token when set, and is open when not', async (t) => {
  const token = 'metrics-token-' + 'x'.repeat(24)
  const hub = await startTestHub(t, { env: { HUB_METRICS_TOKEN: token } })
  const none = await request(hub.httpUrl, 'GET', '/metrics')
  t.equal(none.status, 401, 'no token')
  t.same(none.body, { error: { code: 'HUB_ERR_UNAUTHORIZED', message: 'Authentication required' } }, 'with a coded error')
  t.match(none.headers['www-authenticate'], /^Bearer/)
  for (const wrong of ['Bearer wrong', 'Bearer ' + token.slice(0, -1), 'Bearer ' + token + 'x', 'Basic ' + Buffer.from('x:' + token).toString('base64'), 'Bearer ', token]) {
    t.equal((await request(hub.httpUrl, 'GET', '/metrics', { headers: { authorization: wrong } })).status, 401, `refused: ${wrong.slice(0, 12)}…`)
  }
  const right = await request(hub.httpUrl, 'GET', '/metrics', { headers: { authorization: 'Bearer ' + token } })
  t.equal(right.status, 200, 'the right token')
  t.match(right.body, /^# HELP /m, 'Prometheus text')
  t.equal((await request(hub.httpUrl, 'GET', '/healthz')).status, 200, 'health checks stay open')

  const open = await startTestHub(t)
  const unset = await request(open.httpUrl, 'GET', '/metrics')
  t.equal(unset.status, 200, 'unset: open as before')
  t.match(unset.body, /^# HELP /m)
})
