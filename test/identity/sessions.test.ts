import t from 'tap'
import { sql } from 'drizzle-orm'
import { refreshCookie, request } from '../helpers/hub-client.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// RELIABILITY E34 (refresh token as access token), E35 (refresh reuse), E36 (logout, disable, role change).
t.test('sessions: rotation, reuse detection, revocation at once', async (t) => {
  const hub = await startTestHub(t)
  const admin = await hub.login()
  const signIn = async (email: string, password: string) => {
    const res = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email, password } })
    t.equal(res.status, 200, 'signed in ' + email)
    return { access: res.body.accessToken as string, refresh: refreshCookie(res) as string, res }
  }
  const refresh = (cookie: string, headers: Record<string, string> = {}) =>
    request(hub.httpUrl, 'POST', '/api/auth/refresh', { headers: { cookie: `hub_refresh=${cookie}`, ...headers } })
  const createUser = async (email: string, role: string) => {
    const res = await hub.api(admin, 'POST', '/api/users', { email, password: 'a sturdy passphrase 42', role })
    t.equal(res.status, 201)
    return res.body.id as string
  }

  t.test('the refresh cookie is HttpOnly, SameSite=Strict, scoped to /api/auth', async (t) => {
    const { res } = await signIn(hub.admin.email, hub.admin.password)
    const line = (res.headers['set-cookie'] ?? []).find((l) => l.startsWith('hub_refresh='))
    t.match(line, /HttpOnly/i)
    t.match(line, /SameSite=Strict/i)
    t.match(line, /Path=\/api\/auth/)
  })

  t.test('E34: a refresh token is not an access token', async (t) => {
    const { refresh: cookie } = await signIn(hub.admin.email, hub.admin.password)
    t.equal((await hub.api(cookie, 'GET', '/api/devices')).status, 401)
  })

  t.test('E35: rotation on every use; a reused token revokes the whole family, audited', async (t) => {
    const first = await signIn(hub.admin.email, hub.admin.password)
    const second = await refresh(first.refresh)
    t.equal(second.status, 200, 'refresh works')
    const secondCookie = refreshCookie(second) as string
    t.not(secondCookie, first.refresh, 'a new refresh token each time')
    t.equal((await hub.api(second.body.accessToken, 'GET', '/api/devices')).status, 200, 'the new access token works')

    const replay = await refresh(first.refresh)
    t.equal(replay.status, 401, 'the used token is refused')
    t.equal(replay.body.error.code, 'HUB_ERR_INVALID_REFRESH_TOKEN')
    t.equal((await refresh(secondCookie)).status, 401, 'the newest token of the family is revoked too')
    t.equal((await hub.api(second.body.accessToken, 'GET', '/api/devices')).status, 401, 'and the family\'s access tokens, at once')
    t.equal((await hub.api(first.access, 'GET', '/api/devices')).status, 401, 'including the first one')
    t.equal((await hub.api(admin, 'GET', '/api/devices')).status, 200, 'other sessions are unaffected')
    await hub.audit.flush()
    const rows = await hub.database.rows<{ outcome: string }>(sql`select outcome from audit_log where action = 'auth.refresh.reuse'`)
    t.equal(rows.length, 1, 'the reuse is audited')
    t.equal(rows[0].outcome, 'denied')
  })

  t.test('E35: two refreshes racing with one token: the family is revoked, whoever was first', async (t) => {
    const s = await signIn(hub.admin.email, hub.admin.password)
    const answers = await Promise.all([refresh(s.refresh), refresh(s.refresh)])
    const statuses = answers.map((a) => a.status).sort()
    // Depending on the interleaving, the first one gets a token that is already revoked (200) or is
    // refused itself (401); never do both succeed, and no token of the family works afterwards.
    t.ok(statuses[1] === 401, `at most one refresh is answered: ${statuses.join(', ')}`)
    for (const answer of answers.filter((a) => a.status === 200)) {
      t.equal((await refresh(refreshCookie(answer) as string)).status, 401, 'the first one\'s next token is revoked with the family')
    }
    t.equal((await hub.api(s.access, 'GET', '/api/devices')).status, 401, 'and so is the session\'s access token')
  })

  t.test('CSRF: a cross-site refresh or logout is refused', async (t) => {
    const s = await signIn(hub.admin.email, hub.admin.password)
    t.equal((await refresh(s.refresh, { origin: 'https://evil.example' })).status, 403)
    t.equal((await refresh(s.refresh, { 'sec-fetch-site': 'cross-site' })).status, 403)
    const logout = await request(hub.httpUrl, 'POST', '/api/auth/logout', { headers: { cookie: `hub_refresh=${s.refresh}`, origin: 'https://evil.example' } })
    t.equal(logout.status, 403)
    t.equal((await refresh(s.refresh, { origin: hub.httpUrl })).status, 200, 'same origin works')
  })

  t.test('E36: after logout, old access and refresh tokens are refused at once, and the open event stream ends', async (t) => {
    const s = await signIn(hub.admin.email, hub.admin.password)
    const ticket = (await hub.api(s.access, 'POST', '/api/events/ticket')).body.ticket as string
    const stream = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
    t.teardown(() => stream.close())
    t.equal(stream.status, 200)
    const out = await request(hub.httpUrl, 'POST', '/api/auth/logout', { headers: { cookie: `hub_refresh=${s.refresh}`, authorization: 'Bearer ' + s.access } })
    t.equal(out.status, 204)
    t.equal((await hub.api(s.access, 'GET', '/api/devices')).status, 401, 'access token')
    t.equal((await refresh(s.refresh)).status, 401, 'refresh token')
    await stream.ended
    t.pass('the stream the session opened was closed by the hub')
  })

  t.test('E36: disabling a user or lowering its role ends its sessions at once', async (t) => {
    const opId = await createUser('op36@example.test', 'operator')
    const op = await signIn('op36@example.test', 'a sturdy passphrase 42')
    t.equal((await hub.api(op.access, 'POST', '/api/devices', { name: 'ok' })).status, 201)
    t.equal((await hub.api(admin, 'PATCH', `/api/users/${opId}`, { role: 'viewer' })).status, 200)
    t.equal((await hub.api(op.access, 'GET', '/api/devices')).status, 401, 'the operator-role token is refused after the role change')
    t.equal((await refresh(op.refresh)).status, 401, 'and its refresh token')
    const again = await signIn('op36@example.test', 'a sturdy passphrase 42')
    t.equal(again.res.body.user.role, 'viewer')
    t.equal((await hub.api(again.access, 'POST', '/api/devices', { name: 'no' })).status, 403, 'the new role applies')

    t.equal((await hub.api(admin, 'PATCH', `/api/users/${opId}`, { disabled: true })).status, 200)
    t.equal((await hub.api(again.access, 'GET', '/api/devices')).status, 401, 'a disabled user\'s token is refused at once')
    const denied = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email: 'op36@example.test', password: 'a sturdy passphrase 42' } })
    t.equal(denied.status, 401, 'and it cannot sign in')
    t.equal(denied.body.error.code, 'HUB_ERR_INVALID_CREDENTIALS', 'with the same answer as a wrong password')
  })

  t.test('admins cannot lock themselves out', async (t) => {
    const me = (await hub.api(admin, 'GET', '/api/auth/me')).body
    t.equal((await hub.api(admin, 'PATCH', `/api/users/${me.id}`, { disabled: true })).status, 409)
  })

  t.test('new passwords: minimum length and common passwords are refused', async (t) => {
    for (const password of ['short1!', 'password1234', 'Password123!', 'qwertyuiop12', 'aaaaaaaaaaaaaa']) {
      const res = await hub.api(admin, 'POST', '/api/users', { email: 'weak@example.test', password, role: 'viewer' })
      t.equal(res.status, 400, password)
      t.equal(res.body.error.code, 'HUB_ERR_WEAK_PASSWORD', password)
    }
  })
})
