import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { sql } from 'drizzle-orm'
import { eidForPrefix } from '../../esim/eid.ts'
import { iccidForPrefix } from '../../esim/iccid.ts'
import { createTestPki } from '../../esim/test-pki.ts'
import { euiccOf, trustDir } from '../helpers/euicc-fixtures.ts'
import { request } from '../helpers/hub-client.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'

// RELIABILITY 60: ES9+ flooded from one address → 429 after the limit; rejected notifications for
// unknown EIDs are counted, not stored one row each.

const PATH = '/gsma/rsp2/es9plus/handleNotification'
const post = (hub: TestHub, der: Buffer, from: string) => request(hub.httpUrl, 'POST', PATH, { body: { pendingNotification: der.toString('base64') }, headers: { 'x-admin-protocol': 'gsma/rsp/v2.2.0' }, from })

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  await eventually(what, check)
}

const count = async (hub: TestHub, table: 'notifications' | 'notification_inbox') =>
  (await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from ${sql.raw(table)}`))[0].n

const metric = async (hub: TestHub, pattern: RegExp): Promise<number> => {
  const text = await (await fetch(hub.httpUrl + '/metrics')).text()
  return text.split('\n').filter((line) => pattern.test(line)).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
}

t.test('the default limit: 60 posts a minute per source address, then 429 with a coded error', async (t) => {
  const pki = createTestPki()
  const hub = await startTestHub(t)
  const der = euiccOf(pki).notification(1, 'enable', iccidForPrefix('899501', 1))
  const statuses: number[] = []
  for (let i = 0; i < 61; i++) statuses.push((await post(hub, der, '127.0.0.21')).status)
  t.same(statuses.slice(0, 60).filter((s) => s !== 204), [], 'the first 60 are answered 204')
  t.equal(statuses[60], 429, 'the 61st is refused')
})

t.test('a flood from one address gets 429 after the limit; other addresses and routes are unaffected', async (t) => {
  const pki = createTestPki()
  const hub = await startTestHub(t, { es9plusRateLimit: { max: 20, timeWindowMs: 60_000 } })
  const euicc = euiccOf(pki)
  const answers = []
  for (let i = 0; i < 30; i++) answers.push(await post(hub, euicc.notification(i + 1, 'enable', iccidForPrefix('899501', 1)), '127.0.0.31'))
  t.same(answers.slice(0, 20).map((a) => a.status), new Array(20).fill(204), 'up to the limit: 204')
  const refused = answers.slice(20)
  t.same(refused.map((a) => a.status), new Array(10).fill(429), 'past it: 429')
  t.equal(refused[0].body.error.code, 'HUB_ERR_RATE_LIMITED')
  t.type(refused[0].body.error.message, 'string')
  t.ok(Number(refused[0].headers['retry-after']) > 0, 'with Retry-After')
  t.equal((await post(hub, euicc.notification(99, 'enable', iccidForPrefix('899501', 1)), '127.0.0.32')).status, 204, 'another address has its own budget')
  for (let i = 0; i < 30; i++) {
    const health = await request(hub.httpUrl, 'GET', '/healthz', { from: '127.0.0.31' })
    if (health.status !== 200) { t.fail('healthz answered ' + health.status); break }
  }
  t.pass('other routes are not limited for that address')
  const login = await request(hub.httpUrl, 'POST', '/api/auth/login', { body: hub.admin, from: '127.0.0.31' })
  t.equal(login.status, 200, 'nor is the API')
  t.equal(login.headers['x-ratelimit-limit'], undefined, 'which carries no ES9+ limit headers')
})

t.test('rejected notifications for unknown EIDs are counted, not stored; a known EID\'s still are', async (t) => {
  const trusted = createTestPki()
  const hub = await startTestHub(t, { es9plusRateLimit: { max: 5000, timeWindowMs: 60_000 }, env: { HUB_EUICC_TRUST_DIR: trustDir(t, [trusted.ci.certificateDer]) } })
  const token = await hub.login()
  const stranger = euiccOf(createTestPki({ eid: eidForPrefix('89049032', 424242n) })) // under a CI nobody trusts
  const { device } = await hub.createDevice(token, { eid: trusted.eid })
  const before = await count(hub, 'notifications')
  const N = 1000
  let next = 0
  const worker = async () => {
    for (let i = next++; i < N; i = next++) {
      // Mostly well-formed but untrusted; every tenth not a notification at all.
      const der = i % 10 === 0 ? Buffer.from('3003020101', 'hex') : stranger.notification(i + 1, 'enable', iccidForPrefix('899501', 1))
      const res = await post(hub, der, '127.0.0.41')
      if (res.status !== 204) throw new Error(`post ${i}: ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  await until('every post processed', async () => await count(hub, 'notification_inbox') === 0 && await metric(hub, /^hub_notifications_unbound_rejected_total\{/) >= N)
  t.equal(await metric(hub, /^hub_notifications_unbound_rejected_total\{/), N, 'each rejection is counted')
  t.equal(await metric(hub, /^hub_notifications_unbound_rejected_total\{reason="malformed"\}/), N / 10, 'by reason')
  t.equal(await count(hub, 'notifications'), before, 'and none is stored')

  // A rejection bound to a device (its EID is held) is still shown to that device's tenant.
  const forged = Buffer.from(euiccOf(trusted).notification(7, 'enable', iccidForPrefix('899501', 1)))
  forged[forged.indexOf(Buffer.from([0x5f, 0x37, 0x40])) + 10] ^= 0xff
  t.equal((await post(hub, forged, '127.0.0.41')).status, 204)
  await until('the bound rejection is stored', async () => await count(hub, 'notifications') === before + 1)
  const listed = (await hub.api(token, 'GET', `/api/devices/${device.id as string}/notifications`)).body.items
  t.match(listed, [{ seqNumber: 7, status: 'rejected', reason: 'bad-signature' }])
})
