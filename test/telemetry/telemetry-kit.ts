import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import type { Database } from '../../server/db/database.ts'
import { eventually } from '../helpers/eventually.ts'
import { throwawayDatabase, type DeviceCredentials, type Teardown, type TestHub } from '../helpers/test-hub.ts'

/** Rollups every 100 ms and the partition pass every 200 ms, so tests see both soon. */
export const FAST = { telemetry: { rollupMs: 100, partitionMs: 200 } }
export const DAY = 86_400_000

/** A database that outlives a hub: a throwaway one on DATABASE_URL's server, or PGlite in a directory. */
export async function restartableDatabase (t: Teardown): Promise<string> {
  if (process.env.DATABASE_URL !== undefined && !process.env.DATABASE_URL.startsWith('pglite://')) return await throwawayDatabase(t)
  const dir = mkdtempSync(join(tmpdir(), 'hub-telemetry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return `pglite://${dir}`
}

export async function connect (t: Teardown, hub: TestHub, credentials: DeviceCredentials): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
  t.teardown(() => client.endAsync(true))
  return client
}

/** Publishes samples as one QoS 1 message and resolves on its PUBACK (the rows are committed then). */
export async function publish (client: mqtt.MqttClient, deviceId: string, samples: object[], dup = false): Promise<void> {
  await client.publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify(samples), { qos: 1, dup })
}

/** Waits until the rollup job has read every row that arrived up to now. */
export async function rolledUp (database: Database): Promise<void> {
  const now = Date.now()
  await eventually('the rollups to catch up', async () => {
    const [row] = await database.rows<{ w: string }>(sql`select (extract(epoch from watermark) * 1000)::float8::text as w from telemetry_rollup_state`)
    return Number(row.w) > now
  })
}

/** Samples with radio figures, battery and counters, `count` of them `stepMs` apart from `start`. */
export function samples (start: number, count: number, stepMs: number, seq0: number): object[] {
  return Array.from({ length: count }, (_, i) => ({
    ts: start + i * stepMs,
    seq: seq0 + i,
    rsrp: -70 - ((seq0 + i) * 7) % 50 - 0.5,
    sinr: 3.25 + (i % 9),
    battery: 100 - (i % 80) * 0.3,
    bytesUp: 1000 * (seq0 + i),
    ...(i % 3 === 0 ? { lat: 16.8 + i / 1000, lon: 96.15 } : {})
  }))
}

const METRICS = ['rsrp', 'rsrq', 'sinr', 'rssi', 'battery', 'temperature', 'bytes_up', 'bytes_down', 'uptime', 'lat', 'lon']
const camel = (c: string) => c.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase())

/** The bucketed answer computed from raw rows (the query the API ran before the rollups), in the API's shape. */
export async function rawBuckets (database: Database, deviceId: string, bucketSeconds: number, from: Date, to: Date): Promise<object[]> {
  const rows = await database.rows<Record<string, unknown>>(sql.raw(`
    select date_bin('${bucketSeconds} seconds'::interval, ts, timestamptz '1970-01-01') as bucket, count(*)::int as count,
      ${METRICS.map((m) => `min(${m}) as "${camel(m)}Min", avg(${m})::float8 as "${camel(m)}Avg", max(${m}) as "${camel(m)}Max"`).join(', ')}
    from telemetry where device_id = '${deviceId}' and ts >= '${from.toISOString()}' and ts <= '${to.toISOString()}' group by 1 order by 1`))
  return rows.map((row) => {
    const out: Record<string, unknown> = { ts: new Date(row.bucket as string).toISOString(), count: row.count }
    for (const [key, value] of Object.entries(row)) if (key !== 'bucket' && key !== 'count' && value !== null) out[key] = Number(value)
    return out
  })
}

/** Means may differ in their last bits (sums added in another order): each mean of `actual` within a
 * relative 1e-9 of the same mean in `expected` takes the expected value, so that `t.same(meansAlike(a, e),
 * e)` fails, with its diff, only on a real difference. (Rounding both to 9 digits failed when the two
 * fell on either side of a rounding boundary.) */
export function meansAlike (actual: object[], expected: object[]): object[] {
  return actual.map((item, i) => {
    const other = (expected[i] ?? {}) as Record<string, unknown>
    return Object.fromEntries(Object.entries(item).map(([k, v]) => {
      const e = other[k]
      const near = k.endsWith('Avg') && typeof v === 'number' && typeof e === 'number' && Math.abs(v - e) <= 1e-9 * Math.max(Math.abs(v), Math.abs(e), 1)
      return [k, near ? e : v]
    }))
  })
}
