import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'drizzle-orm'
import mqtt from 'mqtt'
import { AuditLog } from '../../server/audit/audit-log.ts'
import { openDatabase } from '../../server/db/database.ts'
import { startTestHub, throwawayDatabase } from '../helpers/test-hub.ts'

const run = promisify(execFile)

// RELIABILITY E43: an audit row edited or deleted in the database → the verifier names the first broken
// link (API and CLI). Also: appends from two writers never fork the chain; denied MQTT actions are audited.
t.test('the audit chain', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const { device: other } = await hub.createDevice(token)

  t.test('denied MQTT actions are audited', async (t) => {
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.publish(`devices/${other.id}/telemetry`, '{}', { qos: 1 })
    await closed
    await client.endAsync(true)
    const rows = await eventually('the refused publish audited', async () => {
      await hub.audit.flush()
      const found = await hub.database.rows<{ actor_id: string, outcome: string }>(sql`select actor_id, outcome from audit_log where action = 'mqtt.publish'`)
      return found.length > 0 && found
    })
    t.same(rows, [{ actor_id: device.id, outcome: 'denied' }])
  })

  t.test('concurrent appends from two writers keep one chain', async (t) => {
    const second = new AuditLog(hub.database)
    await Promise.all(Array.from({ length: 60 }, (_x, i) =>
      (i % 2 === 0 ? hub.audit : second).append({ tenantId: null, actorType: 'system', actorId: null, action: 'test.concurrent', detail: { i, nested: { b: 1, a: [1, 'x'] } } })))
    t.same(await hub.audit.verify(), { ok: true, rows: (await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from audit_log`))[0].n })
  })

  t.test('E43: an edited row is named; the API reports it', async (t) => {
    const ok = await hub.api(token, 'GET', '/api/audit/verify')
    t.equal(ok.body.ok, true)
    const [{ id }] = await hub.database.rows<{ id: number }>(sql`select id from audit_log where action = 'test.concurrent' order by id limit 1 offset 10`)
    await hub.database.rows(sql`update audit_log set outcome = 'failure' where id = ${id}`)
    const broken = await hub.api(token, 'GET', '/api/audit/verify')
    t.same(broken.body, { ok: false, firstBrokenId: Number(id), reason: 'the row does not match its hash (edited)' })
    await hub.database.rows(sql`update audit_log set outcome = 'success' where id = ${id}`)
    t.equal((await hub.audit.verify()).ok, true, 'restored')

    await hub.database.rows(sql`update audit_log set detail = ${'{"i":999}'} where id = ${Number(id) + 1}`)
    t.equal((await hub.audit.verify() as { firstBrokenId: number }).firstBrokenId, Number(id) + 1, 'an edited detail')
  })

  t.test('E43: a deleted row and a cut tail are named', async (t) => {
    const log = await hub.api(token, 'GET', '/api/audit?limit=5')
    t.equal(log.status, 200)
    t.ok(log.body.items.length > 0)
    const rows = await hub.database.rows<{ id: number }>(sql`select id from audit_log order by id`)
    const middle = Number(rows[3].id)
    await hub.database.rows(sql`delete from audit_log where id = ${middle}`)
    const gap = await hub.audit.verify()
    t.equal((gap as { firstBrokenId: number }).firstBrokenId, middle + 1, 'the row after the deleted one')
    t.match((gap as { reason: string }).reason, /missing/)
  })
})

t.test('E43: the CLI (npm run audit:verify) exits 1 naming the broken row', async (t) => {
  let url: string
  let cleanup = () => {}
  if (process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '') {
    const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'))
    cleanup = () => rmSync(dir, { recursive: true, force: true })
    url = 'pglite://' + dir
  } else {
    url = await throwawayDatabase(t)
  }
  t.teardown(cleanup)
  const database = await openDatabase(url, { poolSize: 2 })
  const audit = new AuditLog(database)
  for (let i = 0; i < 5; i++) await audit.append({ tenantId: null, actorType: 'system', actorId: null, action: 'cli.test', detail: { i } })
  await database.close()
  const cli = (env: Record<string, string>) => run(process.execPath, ['--import', 'tsx', 'server/audit/verify-cli.ts'], { env: { ...process.env, DATABASE_URL: url, ...env } })
    .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e: { code: number, stdout: string, stderr: string }) => e)
  const good = await cli({})
  t.equal(good.code, 0)
  t.same(JSON.parse(good.stdout), { ok: true, rows: 5 })

  const again = await openDatabase(url, { poolSize: 2 })
  await again.rows(sql`update audit_log set action = 'cli.forged' where id = 3`)
  await again.rows(sql`delete from audit_log where id = 5`)
  await again.close()
  const bad = await cli({})
  t.equal(bad.code, 1)
  t.equal(JSON.parse(bad.stdout).firstBrokenId, 3)
  t.match(bad.stderr, /broken at row 3/)
})
