// Issue 14 item 5: telemetry partitioned by day, a DEFAULT partition for any other time, retention by
// dropping whole partitions once they are rolled up, the rollups kept.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { insertTelemetry } from '../../server/ingest/telemetry-insert.ts'
import { partitionName } from '../../server/telemetry/partition-maintenance.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { connect, DAY, FAST, publish, rawBuckets, restartableDatabase, rolledUp, meansAlike, samples } from './telemetry-kit.ts'

const dayStart = (ms: number) => Math.floor(ms / DAY) * DAY
const partitionOf = async (hub: { database: { rows: <T>(q: ReturnType<typeof sql>) => Promise<T[]> } }, deviceId: string, seq: number) =>
  (await hub.database.rows<{ p: string }>(sql`select tableoid::regclass::text as p from telemetry where device_id = ${deviceId} and seq = ${seq}`))[0]?.p

t.test('partitions by day exist, a sample lands in its day, a resend across days is stored once, and far times still insert', async (t) => {
  const hub = await startTestHub(t, FAST)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const now = Date.now()
  const names = (await hub.database.rows<{ name: string }>(sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'telemetry'::regclass`)).map((r) => r.name)
  for (let i = -1; i <= 7; i++) t.ok(names.includes(partitionName('telemetry', dayStart(now) + i * DAY, 'day')), `a partition for day ${i}`)
  t.ok(names.includes('telemetry_default'), 'and a DEFAULT partition')

  const client = await connect(t, hub, credentials)
  const yesterday = now - DAY
  const batch = [{ ts: yesterday, seq: 1, rsrp: -90 }, { ts: now, seq: 2, rsrp: -91 }]
  await publish(client, device.id, batch)
  t.equal(await partitionOf(hub, device.id, 1), partitionName('telemetry', dayStart(yesterday), 'day'), 'yesterday\'s sample is in yesterday\'s partition')
  t.equal(await partitionOf(hub, device.id, 2), partitionName('telemetry', dayStart(now), 'day'), 'today\'s in today\'s')
  await publish(client, device.id, batch, true)
  const [{ n }] = await hub.database.rows<{ n: number }>(sql`select count(*)::int as n from telemetry where device_id = ${device.id}`)
  t.equal(n, 2, 'the resent message (two samples in two partitions) is stored once')

  // Far in the past and the future (a direct insert: MQTT refuses more than 24 h ahead): the DEFAULT
  // partition takes them, then the partition pass gives each its own day and moves it there.
  const far = [Date.UTC(2015, 0, 2, 3, 4, 5), Date.UTC(2099, 5, 6, 7, 8, 9)]
  await hub.database.rows(insertTelemetry(far.map((ts, i) => ({ deviceId: device.id, ts: new Date(ts), seq: 100 + i, rsrp: -100 }))))
  t.equal(await partitionOf(hub, device.id, 100), 'telemetry_default', 'a sample of 2015 is stored (in the DEFAULT partition at first)')
  for (const [i, ts] of far.entries()) {
    await eventually(`the partition of ${new Date(ts).toISOString()}`, async () => await partitionOf(hub, device.id, 100 + i) === partitionName('telemetry', dayStart(ts), 'day'))
  }
  const [{ left }] = await hub.database.rows<{ left: number }>(sql`select count(*)::int as left from telemetry_default`)
  t.equal(left, 0, 'nothing left in the DEFAULT partition')
  await hub.database.rows(insertTelemetry([{ deviceId: device.id, ts: new Date(far[1]), seq: 101, rsrp: -100 }]))
  const [{ again }] = await hub.database.rows<{ again: number }>(sql`select count(*)::int as again from telemetry where device_id = ${device.id} and seq = 101`)
  t.equal(again, 1, 'the moved row still deduplicates a resend')
  const api = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?from=2099-01-01T00:00:00Z&to=2099-12-31T00:00:00Z`)
  t.same(api.body.items, [{ ts: new Date(far[1]).toISOString(), seq: 101, rsrp: -100 }], 'the API reads it')
})

t.test('retention drops a whole old partition only after its rollups, which are kept and still answer', async (t) => {
  const url = await restartableDatabase(t)
  const first = await startTestHub(t, { ...FAST, env: { DATABASE_URL: url } })
  let token = await first.login()
  const { device, credentials } = await first.createDevice(token)
  const old = dayStart(Date.now() - 10 * DAY) + 3 * 3_600_000 + 17_000
  const client = await connect(t, first, credentials)
  await publish(client, device.id, samples(old, 120, 61_000, 1))
  await publish(client, device.id, samples(Date.now() - 3_600_000, 30, 60_000, 500))
  const oldPartition = partitionName('telemetry', dayStart(old), 'day')
  await eventually('the old day\'s partition, its rows moved out of DEFAULT', async () => (await partitionOf(first, device.id, 1)) === oldPartition)
  await rolledUp(first.database)
  const from = new Date(old - 3_600_000)
  const to = new Date(old + 4 * 3_600_000)
  const query = `/api/devices/${device.id}/telemetry?bucket=1h&from=${from.toISOString()}&to=${to.toISOString()}`
  const before = (await first.api(token, 'GET', query)).body.items
  const fromRaw = await rawBuckets(first.database, device.id, 3600, from, to)
  t.same(meansAlike(before, fromRaw), fromRaw, 'hour buckets as raw rows give them')
  t.equal(before.reduce((n: number, b: { count: number }) => n + b.count, 0), 120)
  await client.endAsync(true)
  await first.close()

  const second = await startTestHub(t, { ...FAST, env: { DATABASE_URL: url, HUB_TELEMETRY_RETENTION_DAYS: '3' } })
  token = await second.login()
  await eventually('the old partition dropped', async () => {
    const [{ exists }] = await second.database.rows<{ exists: boolean }>(sql`select to_regclass(${oldPartition}) is not null as exists`)
    return !exists
  })
  const [{ raw }] = await second.database.rows<{ raw: number }>(sql`select count(*)::int as raw from telemetry where device_id = ${device.id}`)
  t.equal(raw, 30, 'the old raw samples are gone, the recent ones kept')
  const [{ minutes }] = await second.database.rows<{ minutes: number }>(sql`select coalesce(sum(samples), 0)::int as minutes from telemetry_1m where device_id = ${device.id} and bucket < ${new Date(old + DAY).toISOString()}::timestamptz`)
  t.equal(minutes, 120, 'the minute rollups of the dropped day are kept (4 × 3 days)')
  t.same((await second.api(token, 'GET', query)).body.items, before, 'the hour buckets answer the same from the rollups')
  const [{ p }] = await second.database.rows<{ p: string }>(sql`select to_regclass(${partitionName('telemetry', dayStart(Date.now()), 'day')})::text as p`)
  t.ok(p, 'today\'s partition is kept')
})
