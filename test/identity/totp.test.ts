import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { request } from '../helpers/hub-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// RELIABILITY E39: a code reused in its step, a code from three steps ago, brute force → refused and
// rate-limited; enrolment with a QR code; recovery codes usable once.
t.test('TOTP', async (t) => {
  const hub = await startTestHub(t)
  const admin = await hub.login()
  const password = 'a sturdy passphrase 42'
  t.equal((await hub.api(admin, 'POST', '/api/users', { email: 'totp@example.test', password, role: 'operator' })).status, 201)
  const token = (await hub.api('', 'POST', '/api/auth/login', { email: 'totp@example.test', password })).body.accessToken
  const enrol = await hub.api(token, 'POST', '/api/auth/totp/enroll')
  t.equal(enrol.status, 200)
  t.match(enrol.body.qrCode, /^data:image\/png;base64,/, 'a QR code image')
  t.match(enrol.body.otpauthUrl, /^otpauth:\/\/totp\//)
  const totp = new TOTP({ secret: Secret.fromBase32(enrol.body.secret), digits: 6, period: 30, algorithm: 'SHA1' })
  const at = (steps: number) => totp.generate({ timestamp: Date.now() + steps * 30_000 })
  const login = (code: string | undefined, from: string) =>
    request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email: 'totp@example.test', password, totp: code }, from })

  t.equal((await hub.api(token, 'POST', '/api/auth/totp/confirm', { code: at(0) === '000000' ? '111111' : '000000' })).status, 401, 'a wrong confirmation code')
  const confirm = await hub.api(token, 'POST', '/api/auth/totp/confirm', { code: at(-1) })
  t.equal(confirm.status, 200, 'confirmed with a code one step old (drift)')
  const recovery = confirm.body.recoveryCodes as string[]
  t.equal(recovery.length, 10)
  t.equal((await hub.api(token, 'POST', '/api/auth/totp/enroll')).status, 409, 'no silent re-enrolment once enabled')

  const noCode = await login(undefined, '127.0.20.1')
  t.equal(noCode.status, 401)
  t.equal(noCode.body.error.code, 'HUB_ERR_TOTP_REQUIRED')
  t.equal((await login(at(-3), '127.0.20.2')).status, 401, 'a code from three steps ago is refused')
  const current = at(0) // one string: a step boundary between two calls must not make a new code
  const ok = await login(current, '127.0.20.3')
  t.equal(ok.status, 200, 'the current code signs in')
  const reused = await login(current, '127.0.20.4')
  t.equal(reused.status, 401, 'the same code again, in its step, is refused')
  t.equal(reused.body.error.code, 'HUB_ERR_INVALID_TOTP')
  t.equal((await login(at(-1), '127.0.20.5')).status, 401, 'an earlier step after a later one was used is refused')
  t.equal((await login(at(1), '127.0.20.6')).status, 200, 'the next step (one step of drift) is accepted once')

  t.equal((await login(recovery[0], '127.0.20.7')).status, 200, 'a recovery code works')
  t.equal((await login(recovery[0], '127.0.20.8')).status, 401, 'once')

  // Brute force: wrong codes count against the account (and the address); the right code is then refused.
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) {
    const wrong = String((Number(at(0)) + 1 + i) % 1_000_000).padStart(6, '0')
    statuses.push((await login(wrong, `127.0.21.${i + 1}`)).status)
  }
  t.ok(statuses.includes(429), 'wrong codes are rate-limited: ' + statuses.join(','))
  t.equal((await login(at(2), '127.0.22.1')).status, 429, 'then even a valid code is refused for a while')
})
