import { and, asc, eq, gte, lte, sql, type SQL } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { telemetry, type NewTelemetryRow, type TelemetryRow } from '../db/schema/index.ts'
import { METRIC_KEYS, type TelemetrySample } from '../../protocol/telemetry.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { textArray } from '../db/sql-values.ts'
import { bucketQuery, watermarkQuery } from '../telemetry/bucket-query.ts'

/** How far back `latestOf` looks first (two days of daily partitions). */
const RECENT_MS = 2 * 86_400_000

/** A sample as the API and the events show it: the device's fields, the time in ISO 8601. */
export type TelemetryItem = Omit<TelemetrySample, 'ts'> & { ts: string }

/** The row a validated sample becomes. */
export function sampleToRow (deviceId: string, sample: TelemetrySample): NewTelemetryRow {
  const row: NewTelemetryRow = { deviceId, ts: new Date(sample.ts), seq: sample.seq }
  for (const key of METRIC_KEYS) {
    const value = sample[key]
    if (value !== undefined) (row as Record<string, unknown>)[key] = key === 'cellId' ? Number(value) : value
  }
  return row
}

/** Drops null metrics and renders the time as ISO 8601, as the API and events show a sample. */
export function rowToItem (row: TelemetryRow | NewTelemetryRow): TelemetryItem {
  const item: Record<string, unknown> = { ts: (row.ts as Date).toISOString(), seq: row.seq }
  for (const key of METRIC_KEYS) {
    const value = row[key]
    if (value !== null && value !== undefined) item[key] = value
  }
  return item as TelemetryItem
}

/** One aggregation bucket: its start, its sample count, and `<metric>Min/Avg/Max` for each numeric metric. */
export type TelemetryBucket = { ts: string, count: number } & Record<string, number | string>

export interface TelemetryRangeQuery {
  from?: Date
  to?: Date
  limit: number
  cursor?: string
}

/** Read side of the telemetry table (the write side is the ingest batcher). Callers check that the
 * device belongs to the caller's tenant first. */
export class TelemetryRepository {
  constructor (private readonly database: Database) {}

  async range (deviceId: string, query: TelemetryRangeQuery): Promise<{ items: TelemetryItem[], nextCursor: string | null }> {
    const where: SQL[] = [eq(telemetry.deviceId, deviceId)]
    if (query.from !== undefined) where.push(gte(telemetry.ts, query.from))
    if (query.to !== undefined) where.push(lte(telemetry.ts, query.to))
    if (query.cursor !== undefined) {
      const [ts, seq] = decodeCursor(query.cursor, ['time', 'int'])
      where.push(sql`(${telemetry.ts}, ${telemetry.seq}) > (${ts}::timestamptz, ${Number(seq)}::bigint)`)
    }
    const rows = await this.database.db.select().from(telemetry).where(and(...where))
      .orderBy(asc(telemetry.ts), asc(telemetry.seq)).limit(query.limit + 1)
    const items = rows.slice(0, query.limit).map(rowToItem)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.ts, last.seq]) : null }
  }

  /** Per-bucket min/avg/max of each numeric metric (`bucketSeconds` wide, aligned on the epoch): from the
   * rollups where the buckets are whole minutes or hours, with the same answer as from raw rows
   * (server/telemetry/bucket-query.ts). */
  async buckets (deviceId: string, bucketSeconds: number, from: Date, to: Date, limit: number): Promise<TelemetryBucket[]> {
    const [state] = await this.database.rows<{ watermark: string }>(watermarkQuery)
    const rows = await this.database.rows<Record<string, unknown>>(bucketQuery(deviceId, bucketSeconds, from, to, limit, Number(state?.watermark ?? '-Infinity')))
    return rows.map((row) => {
      const out: TelemetryBucket = { ts: new Date(row.bucket as string).toISOString(), count: row.count as number }
      for (const [key, value] of Object.entries(row)) {
        if (key !== 'bucket' && key !== 'count' && value !== null) out[key] = Number(value)
      }
      return out
    })
  }

  /** The newest sample of each of `deviceIds` (one index probe per device and partition). Recent
   * partitions first: a device with a sample in the last two days has its newest one there, and only
   * the others look through every partition. */
  async latestOf (deviceIds: readonly string[]): Promise<Map<string, TelemetryItem>> {
    const latest = new Map<string, TelemetryItem>()
    const recent = new Date(Date.now() - RECENT_MS).toISOString()
    await this.newest(deviceIds, sql`and ts >= ${recent}::timestamptz`, latest)
    const rest = deviceIds.filter((id) => !latest.has(id))
    if (rest.length > 0) await this.newest(rest, sql``, latest)
    return latest
  }

  private async newest (deviceIds: readonly string[], bound: SQL, into: Map<string, TelemetryItem>): Promise<void> {
    if (deviceIds.length === 0) return
    const rows = await this.database.rows<Record<string, unknown>>(sql`
      select t.* from unnest(${textArray(deviceIds)}) as d(id)
      cross join lateral (select * from telemetry where device_id = d.id ${bound} order by ts desc, seq desc limit 1) t`)
    for (const raw of rows) {
      const row = fromSnakeRow(raw)
      into.set(row.deviceId, rowToItem(row))
    }
  }
}

/** snake_case column → camelCase key, computed once per column name (a page maps 100 rows × 21 columns). */
const CAMEL = new Map<string, string>()
const camelOf = (key: string): string => {
  let camel = CAMEL.get(key)
  if (camel === undefined) {
    camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    CAMEL.set(key, camel)
  }
  return camel
}
const BIGINT_KEYS = new Set(['seq', 'cellId', 'bytesUp', 'bytesDown', 'uptime'])

/** Maps a raw snake_case telemetry row to the drizzle shape (bigint columns arrive as strings). */
function fromSnakeRow (raw: Record<string, unknown>): TelemetryRow {
  const row: Record<string, unknown> = {}
  for (const key in raw) {
    const camel = camelOf(key)
    const value = raw[key]
    row[camel] = value !== null && value !== undefined && BIGINT_KEYS.has(camel) ? Number(value) : value
  }
  row.ts = new Date(row.ts as string)
  return row as TelemetryRow
}
