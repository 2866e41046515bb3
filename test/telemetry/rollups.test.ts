// Issue 14 item 5: per-minute and per-hour rollups kept by a watermark job, equal to the raw aggregates
// across a hub restart (late samples counted, resends not), and the bucketed API reading them with the
// answer raw rows give.
import t from 'tap'
import { sql } from 'drizzle-orm'
import type { Database } from '../../server/db/database.ts'
import { rollUpAll } from '../../server/telemetry/rollup-job.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { connect, DAY, FAST, publish, rawBuckets, restartableDatabase, rolledUp, meansAlike, samples } from './telemetry-kit.ts'

const METRICS = ['rsrp', 'sinr', 'battery', 'bytes_up', 'lat', 'lon']

/** Each rollup row beside the same aggregate computed from raw rows (sums rounded: added in another order). */
async function compareRollups (database: Database, table: 'telemetry_1m' | 'telemetry_1h'): Promise<{ rollup: unknown[], raw: unknown[] }> {
  const unit = table === 'telemetry_1m' ? '1 minute' : '1 hour'
  const list = (prefix: string) => METRICS.map((m) => prefix === '' ? `${m}_count, round(${m}_sum::numeric, 6) as ${m}_sum, ${m}_min, ${m}_max` : `count(${m})::int as ${m}_count, round(coalesce(sum(${m}::${m === 'bytes_up' ? 'numeric' : 'float8'}), 0)::numeric, 6) as ${m}_sum, min(${m}) as ${m}_min, max(${m}) as ${m}_max`).join(', ')
  const rollup = await database.rows(sql.raw(`select device_id, bucket::text, samples, ${list('')} from ${table} order by 1, 2`))
  const raw = await database.rows(sql.raw(`select device_id, date_bin('${unit}', ts, timestamptz '1970-01-01')::text as bucket, count(*)::int as samples, ${list('raw')} from telemetry group by 1, 2 order by 1, 2`))
  return { rollup, raw }
}

t.test('rollups equal the raw aggregates across a hub restart: late samples counted, resends not', async (t) => {
  const url = await restartableDatabase(t)
  const first = await startTestHub(t, { ...FAST, env: { DATABASE_URL: url } })
  let token = await first.login()
  const a = await first.createDevice(token)
  const b = await first.createDevice(token)
  const now = Date.now()
  let client = await connect(t, first, a.credentials)
  const batchA = samples(now - 2 * 3_600_000, 200, 37_000, 1)
  await publish(client, a.device.id, batchA)
  const other = await connect(t, first, b.credentials)
  await publish(other, b.device.id, samples(now - 90 * 60_000, 50, 13_000, 1))
  await rolledUp(first.database)
  await client.endAsync(true)
  await first.close()

  const second = await startTestHub(t, { ...FAST, env: { DATABASE_URL: url } })
  token = await second.login()
  client = await connect(t, second, a.credentials)
  await publish(client, a.device.id, batchA.slice(50, 60), true) // a resend after a lost PUBACK
  await publish(client, a.device.id, samples(now - 3 * DAY + 11_000, 40, 29_000, 1000)) // a device's queued, late samples
  await publish(client, a.device.id, samples(now - 2 * 3_600_000 + 5_000, 30, 41_000, 2000)) // into minutes already rolled up
  await publish(client, a.device.id, samples(now, 5, 1000, 3000))
  await rolledUp(second.database)

  const [{ rows }] = await second.database.rows<{ rows: number }>(sql`select count(*)::int as rows from telemetry`)
  t.equal(rows, 200 + 50 + 40 + 30 + 5, 'the resend was stored once')
  for (const table of ['telemetry_1m', 'telemetry_1h'] as const) {
    const { rollup, raw } = await compareRollups(second.database, table)
    t.ok(rollup.length >= 4, `${table} has rows (${rollup.length})`)
    t.same(rollup, raw, `${table} equals the raw aggregate per device and ${table === 'telemetry_1m' ? 'minute' : 'hour'}`)
  }
})

t.test('the bucketed API answers from the rollups what raw rows answer, recent unrolled rows included', async (t) => {
  // The job never runs by itself here: the test rolls up when it wants, so some rows are surely recent.
  const hub = await startTestHub(t, { telemetry: { rollupMs: 3_600_000, partitionMs: 3_600_000 } })
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)
  const client = await connect(t, hub, credentials)
  const now = Date.now()
  await publish(client, device.id, samples(now - 2 * DAY - 7_123, 600, 301_000, 1))
  await publish(client, device.id, samples(now - 5 * 3_600_000 + 999, 300, 47_000, 5000))
  const acked = Date.now()
  await eventually('the rollup job to pass the published rows', async () => {
    await rollUpAll(hub.database)
    const [row] = await hub.database.rows<{ w: string }>(sql`select (extract(epoch from watermark) * 1000)::float8::text as w from telemetry_rollup_state`)
    return Number(row.w) > acked
  })
  await publish(client, device.id, samples(now - 4 * 3_600_000 + 3_001, 100, 11_000, 9000)) // not rolled up
  const [{ inRollups }] = await hub.database.rows<{ inRollups: number }>(sql`select sum(samples)::int as "inRollups" from telemetry_1m`)
  t.equal(inRollups, 900, 'the last 100 samples are not in the rollups yet')

  const ranges = [
    [now - 3 * DAY, now + 60_000], // whole hours and minutes inside, partial ones at both ends
    [now - 2 * DAY + 123_457, now - DAY - 99], // unaligned ends
    [Math.floor(now / 3_600_000) * 3_600_000 - 6 * 3_600_000, Math.floor(now / 3_600_000) * 3_600_000 - 1] // aligned hours
  ]
  for (const bucket of [['1m', 60], ['15m', 900], ['90s', 90], ['1h', 3600], ['3h', 10800], ['1d', 86400], ['30s', 30]] as const) {
    for (const [a, b] of ranges) {
      const from = new Date(a)
      const to = new Date(b)
      const answer = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?bucket=${bucket[0]}&limit=10000&from=${from.toISOString()}&to=${to.toISOString()}`)
      t.equal(answer.status, 200)
      const expected = await rawBuckets(hub.database, device.id, bucket[1], from, to)
      t.ok(expected.length > 0)
      t.same(meansAlike(answer.body.items, expected), expected, `bucket ${bucket[0]} over ${from.toISOString()} – ${to.toISOString()}`)
    }
  }
})
