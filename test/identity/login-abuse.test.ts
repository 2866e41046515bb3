import t from 'tap'
import { loginLimits } from '../../server/auth/login-guard.ts'
import { hashConcurrency } from '../../server/auth/passwords.ts'
import { request } from '../helpers/hub-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// RELIABILITY E32 (brute force, spraying, lockout abuse, uniform answers) and E33 (huge passwords,
// bounded hashing). Runs on the in-memory counters, and on Redis when REDIS_URL is set.
t.test('login limits', async (t) => {
  const hub = await startTestHub(t)
  const admin = await hub.login()
  const password = 'a sturdy passphrase 42'
  for (const email of ['victim@example.test', 'owner@example.test', 'spray-me@example.test']) {
    t.equal((await hub.api(admin, 'POST', '/api/users', { email, password, role: 'viewer' })).status, 201)
  }
  const login = (email: string, pw: string, from: string) => request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email, password: pw }, from })

  t.test('E32: brute force on one account from one address locks that pair only', async (t) => {
    const attacker = '127.0.1.1'
    for (let i = 0; i < loginLimits.pairFailures.max; i++) t.equal((await login('victim@example.test', 'wrong guess ' + i, attacker)).status, 401)
    const locked = await login('victim@example.test', password, attacker)
    t.equal(locked.status, 429, 'even the right password is refused from the attacking address')
    t.equal(locked.body.error.code, 'HUB_ERR_TOO_MANY_ATTEMPTS')
    t.ok(Number(locked.headers['retry-after']) > 0, 'with Retry-After')
    t.equal((await login('victim@example.test', password, '127.0.1.2')).status, 200, 'the owner, elsewhere, still signs in')
    t.equal((await login('owner@example.test', password, attacker)).status, 200, 'other accounts from that address still work')
    const unknownLocked = await (async () => {
      for (let i = 0; i < loginLimits.pairFailures.max; i++) await login('ghost@example.test', 'wrong guess ' + i, attacker)
      return await login('ghost@example.test', 'wrong guess', attacker)
    })()
    t.same(unknownLocked.body, locked.body, 'an unknown account locks exactly like a real one')
  })

  t.test('E32: password spraying from one address blocks the address', async (t) => {
    const sprayer = '127.0.2.1'
    for (let i = 0; i < loginLimits.addressFailures.max; i++) {
      const res = await login(`user${i}@example.test`, 'Summer2024!!', sprayer)
      t.equal(res.status, 401, 'attempt ' + i)
    }
    t.equal((await login('spray-me@example.test', password, sprayer)).status, 429, 'the address is blocked, even with a right password')
    t.equal((await login('spray-me@example.test', password, '127.0.2.2')).status, 200, 'other addresses are not')
  })

  t.test('E32: a distributed attack cannot lock the owner out of its usual address', async (t) => {
    const home = '127.0.3.1'
    t.equal((await login('owner@example.test', password, home)).status, 200, 'the owner signs in from home once')
    let failures = 0
    for (let a = 0; failures < loginLimits.accountFailures.max; a++) {
      for (let i = 0; i < loginLimits.pairFailures.max && failures < loginLimits.accountFailures.max; i++, failures++) {
        await login('owner@example.test', 'botnet guess ' + failures, `127.0.4.${a + 1}`)
      }
    }
    t.equal((await login('owner@example.test', password, '127.0.5.1')).status, 429, 'a new address is refused once the account is under attack')
    t.equal((await login('owner@example.test', password, home)).status, 200, 'the owner\'s known address still gets in')
  })

  t.test('E32: unknown account and wrong password: same answer, same work', async (t) => {
    const from = '127.0.6.1'
    const wrong = await login('spray-me@example.test', 'not the password', from)
    const unknown = await login('nobody-here@example.test', 'not the password', from)
    t.same({ status: unknown.status, body: unknown.body }, { status: wrong.status, body: wrong.body })
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const wrongMs: number[] = []
    const unknownMs: number[] = []
    for (let i = 0; i < 4; i++) {
      wrongMs.push((await login('spray-me@example.test', 'not the password', `127.0.7.${i + 1}`)).ms)
      unknownMs.push((await login(`nobody${i}@example.test`, 'not the password', `127.0.8.${i + 1}`)).ms)
    }
    // An unknown account still costs one argon2 verification: without it it would answer ~50x faster.
    t.ok(median(unknownMs) > median(wrongMs) * 0.4, `unknown ${median(unknownMs).toFixed(1)} ms vs wrong ${median(wrongMs).toFixed(1)} ms`)
  })

  t.test('E33: huge passwords are refused before hashing; hashing is bounded', async (t) => {
    const huge = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email: 'owner@example.test', password: 'x'.repeat(1024 * 1024) }, from: '127.0.9.1' })
    t.ok([400, 413].includes(huge.status), `1 MB password → ${huge.status}`)
    const long = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email: 'owner@example.test', password: 'x'.repeat(300) }, from: '127.0.9.1' })
    t.equal(long.status, 400, 'over the cap → 400 (validation, before any hash)')
    hashConcurrency.reset()
    await Promise.all(Array.from({ length: 16 }, (_x, i) => login(`burst${i}@example.test`, 'wrong password', `127.0.10.${i + 1}`)))
    t.ok(hashConcurrency.peak <= hashConcurrency.limit, `at most ${hashConcurrency.limit} hashes at once (peak ${hashConcurrency.peak})`)
    t.ok(hashConcurrency.peak >= 2, 'the burst did run hashes concurrently')
  })

  t.test('E32: per-address request rate', async (t) => {
    const from = '127.0.11.1'
    const answers = []
    for (let i = 0; i <= loginLimits.addressRate.max; i++) answers.push((await request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email: `r${i % 3}@example.test`, password: 'x' }, from })).status)
    t.equal(answers.at(-1), 429)
  })
})
