import t from 'tap'
import { loginLimits } from '../../server/auth/login-guard.ts'
import { passwordVerifications } from '../../server/auth/passwords.ts'
import { request, type Answer } from '../helpers/hub-client.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// RELIABILITY case 58: attempts sent in parallel are reserved before the password is checked, so at
// most the lockout threshold of them are evaluated and the rest get 429. Runs on the in-memory counters,
// and on Redis (the Lua reservation) when REDIS_URL is set.
t.test('58: parallel sign-in attempts are reserved before the password is checked', async (t) => {
  const hub = await startTestHub(t)
  const admin = await hub.login()
  const password = 'a sturdy passphrase 42'
  for (const email of ['race1@example.test', 'race2@example.test', 'race3@example.test']) {
    t.equal((await hub.api(admin, 'POST', '/api/users', { email, password, role: 'viewer' })).status, 201)
  }
  const login = (email: string, pw: string, from: string) => request(hub.httpUrl, 'POST', '/api/auth/login', { body: { email, password: pw }, from })
  const tally = (answers: Answer[]) => {
    const by: Record<number, number> = {}
    for (const a of answers) by[a.status] = (by[a.status] ?? 0) + 1
    return by
  }
  const max = loginLimits.pairFailures.max

  t.test('40 parallel wrong passwords for one account from one address: at most the threshold are evaluated', async (t) => {
    const before = passwordVerifications.count
    const answers = await Promise.all(Array.from({ length: 40 }, (_x, i) => login('race1@example.test', 'wrong guess ' + i, '127.0.20.1')))
    const by = tally(answers)
    t.equal(by[401], max, `exactly ${max} answered 401: ${JSON.stringify(by)}`)
    t.equal(by[429], 40 - max, 'every other one answered 429')
    t.ok(passwordVerifications.count - before <= max, `at most ${max} passwords were checked (${passwordVerifications.count - before})`)
    for (const a of answers.filter((x) => x.status === 429)) t.equal(a.body.error.code, 'HUB_ERR_TOO_MANY_ATTEMPTS')
    t.equal((await login('race1@example.test', password, '127.0.20.1')).status, 429, 'the pair stays locked, even for the right password')
    t.equal((await login('race1@example.test', password, '127.0.20.2')).status, 200, 'the owner, from another address, still signs in')
  })

  t.test('19 wrong and 1 right in parallel with one attempt left: only one of them is evaluated', async (t) => {
    const from = '127.0.21.1'
    for (let i = 0; i < max - 1; i++) t.equal((await login('race2@example.test', 'wrong guess ' + i, from)).status, 401)
    const before = passwordVerifications.count
    const batch = [...Array.from({ length: 19 }, (_x, i) => login('race2@example.test', 'parallel guess ' + i, from)), login('race2@example.test', password, from)]
    const by = tally(await Promise.all(batch))
    t.ok((by[401] ?? 0) + (by[200] ?? 0) <= 1, `at most one evaluated: ${JSON.stringify(by)}`)
    t.equal(by[429], 19, 'the others are refused with 429')
    t.ok(passwordVerifications.count - before <= 1, 'at most one password was checked')
  })

  t.test('once the threshold is exhausted by attempts still in flight, the right password gets 429', async (t) => {
    const from = '127.0.22.1'
    const batch = Array.from({ length: 19 }, (_x, i) => login('race3@example.test', 'parallel guess ' + i, from))
    // The first 429 proves the threshold is taken by reservations whose passwords may still be hashing.
    await new Promise<void>((resolve) => {
      for (const p of batch) p.then((a) => { if (a.status === 429) resolve() }, () => resolve())
      Promise.allSettled(batch).then(() => resolve(), () => resolve())
    })
    const right = await login('race3@example.test', password, from)
    t.equal(right.status, 429, 'the right password is not evaluated: no 200')
    const by = tally(await Promise.all(batch))
    t.equal(by[401], max, `the batch had ${max} evaluated: ${JSON.stringify(by)}`)
  })

  t.test('a success gives its reservation back: the owner is not counted against itself', async (t) => {
    const from = '127.0.23.1'
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < max - 1; i++) t.equal((await login('race2@example.test', 'typo ' + i, from)).status, 401)
      t.equal((await login('race2@example.test', password, from)).status, 200, 'round ' + round + ': the right password resets the pair')
    }
    // Attempts in flight count as failures until they succeed, so up to the threshold of them at once.
    const answers = await Promise.all(Array.from({ length: max }, () => login('race2@example.test', password, from)))
    t.same(answers.map((a) => a.status), Array.from({ length: max }, () => 200), `${max} right passwords in parallel all sign in`)
    t.equal((await login('race2@example.test', 'one more typo', from)).status, 401, 'and none of them was left counted as a failure')
  })
})
