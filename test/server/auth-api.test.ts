import t from 'tap'
import { createHmac } from 'node:crypto'
import { startTestHub } from '../helpers/test-hub.ts'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

t.test('login and access tokens', async (t) => {
  const hub = await startTestHub(t)

  const ok = await hub.api('', 'POST', '/api/auth/login', hub.admin)
  t.equal(ok.status, 200)
  t.equal(ok.body.tokenType, 'Bearer')
  t.equal(ok.body.expiresIn, 900, '15-minute access token')
  t.equal(ok.body.user.role, 'admin')
  const token = ok.body.accessToken as string
  const me = await hub.api(token, 'GET', '/api/auth/me')
  t.equal(me.body.email, hub.admin.email)

  const wrong = await hub.api('', 'POST', '/api/auth/login', { ...hub.admin, password: 'wrong password!' })
  const unknown = await hub.api('', 'POST', '/api/auth/login', { email: 'nobody@example.test', password: 'wrong password!' })
  t.equal(wrong.status, 401)
  t.same({ status: unknown.status, body: unknown.body }, { status: wrong.status, body: wrong.body }, 'unknown account and wrong password get the same answer')
  t.equal((await hub.api('', 'POST', '/api/auth/login', { ...hub.admin, password: 'x'.repeat(10_000) })).status, 400, 'oversized passwords are refused before hashing')
  t.equal((await hub.api('', 'POST', '/api/auth/login', { ...hub.admin, extra: 1 })).status, 400, 'unknown fields are refused')

  t.test('forged, foreign and misused tokens are refused', async (t) => {
    const [header, payload] = token.split('.')
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`
    const badSignature = `${header}.${payload}.${'A'.repeat(43)}`
    const hs512 = `${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}.${'A'.repeat(86)}`
    const tampered = `${header}.${b64({ ...claims, role: 'admin', tid: '00000000-0000-0000-0000-000000000000' })}.${token.split('.')[2]}`
    // A token signed with some other secret, and tokens that are expired, not yet valid or for another
    // audience (signed with a secret we do not know → 401 either way; the point is no 500 and no access).
    const foreign = (c: object) => {
      const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(c)}`
      return `${body}.${createHmac('sha256', 'not-the-hub-secret').update(body).digest('base64url')}`
    }
    const now = Math.floor(Date.now() / 1000)
    for (const [name, bad] of Object.entries({
      none,
      badSignature,
      hs512,
      tampered,
      foreign: foreign(claims),
      expired: foreign({ ...claims, exp: now - 10 }),
      'not yet valid': foreign({ ...claims, nbf: now + 600 }),
      garbage: 'not.a.jwt',
      empty: ''
    })) {
      const res = await hub.api(bad, 'GET', '/api/devices')
      t.equal(res.status, 401, name)
      t.equal(res.body.error.code, 'HUB_ERR_UNAUTHORIZED', name)
    }
  })
})

t.test('the hub signs only access tokens it can verify: audience and type are checked', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  // A token with the hub's own secret but another audience or type: minted by reading the secret
  // from the database, as an attacker with a leaked refresh or foreign-audience token would hold one.
  const { sql } = await import('drizzle-orm')
  const [{ value: secret }] = await hub.database.rows<{ value: string }>(sql`select value from settings where key = 'jwt-secret'`)
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  const sign = (c: object) => {
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(c)}`
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
  }
  const now = Math.floor(Date.now() / 1000)
  t.equal((await hub.api(sign(claims), 'GET', '/api/devices')).status, 200, 'control: a correctly signed access token passes')
  t.equal((await hub.api(sign({ ...claims, aud: 'another-service' }), 'GET', '/api/devices')).status, 401, 'wrong audience')
  t.equal((await hub.api(sign({ ...claims, typ: 'refresh' }), 'GET', '/api/devices')).status, 401, 'a refresh token is not an access token')
  t.equal((await hub.api(sign({ ...claims, exp: now - 5 }), 'GET', '/api/devices')).status, 401, 'expired')
  t.equal((await hub.api(sign({ ...claims, nbf: now + 600 }), 'GET', '/api/devices')).status, 401, 'not yet valid')
})
