import { sql, type SQL } from 'drizzle-orm'
import { ROLLUP_METRICS } from '../db/schema/index.ts'
import { ROLLUP_SOURCE, snake, timeParam } from './rollup-job.ts'

const MINUTE = 60_000
const HOUR = 3_600_000
const EPOCH = sql`timestamptz '1970-01-01'`

const ceilTo = (ms: number, unit: number): number => Math.ceil(ms / unit) * unit
const floorTo = (ms: number, unit: number): number => Math.floor(ms / unit) * unit

/** Per bucket, from raw rows: their count and each metric's count, sum, min and max. */
function rawPart (bin: SQL, where: SQL): SQL {
  const metrics = ROLLUP_METRICS.map((m) => {
    const c = sql.identifier(snake(m.key))
    return sql`count(${c}) as ${sql.raw(snake(m.key))}_count, sum(${c}::${sql.raw(m.type === 'bigint' ? 'numeric' : 'float8')}) as ${sql.raw(snake(m.key))}_sum, min(${c}) as ${sql.raw(snake(m.key))}_min, max(${c}) as ${sql.raw(snake(m.key))}_max`
  })
  return sql`select date_bin(${bin}, ts, ${EPOCH}) as b, count(*) as samples, ${sql.join(metrics, sql`, `)} from telemetry where ${where} group by 1`
}

/** The same, from a rollup table's rows. */
function rollupPart (table: 'telemetry_1m' | 'telemetry_1h', bin: SQL, where: SQL): SQL {
  const metrics = ROLLUP_METRICS.map((m) => {
    const c = snake(m.key)
    return sql.raw(`sum(${c}_count) as ${c}_count, sum(${c}_sum) as ${c}_sum, min(${c}_min) as ${c}_min, max(${c}_max) as ${c}_max`)
  })
  return sql`select date_bin(${bin}, bucket, ${EPOCH}) as b, sum(samples) as samples, ${sql.join(metrics, sql`, `)} from ${sql.identifier(table)} where ${where} group by 1`
}

/** The bucketed telemetry query (`bucketSeconds` wide, aligned on the epoch, over [from, to]): per
 * bucket the sample count and each numeric metric's min, mean and max, as the API serves them.
 *
 * A bucket made of whole minutes (or hours) is read from the minute (or hour) rollups wherever the range
 * holds whole minutes (hours), and from raw rows elsewhere: the part of the range before its first whole
 * minute and after its last, plus, inside, the raw rows that arrived after the rollups' watermark (the
 * rollups hold exactly the rows that arrived before it, read in the same statement). So the answer is
 * the one raw rows give, from far fewer rows, and it still answers once raw partitions are dropped.
 * `watermarkHint` is the watermark read just before: a constant for the planner (the one in the statement
 * can only be later). Other bucket widths read raw rows. */
export function bucketQuery (deviceId: string, bucketSeconds: number, from: Date, to: Date, limit: number, watermarkHint: number): SQL {
  const bin = sql`${bucketSeconds + ' seconds'}::interval`
  const start = from.getTime()
  const end = to.getTime() + 1 // ts <= to, at millisecond precision
  const device = sql`device_id = ${deviceId}`
  const span = (column: string, a: number, b: number): SQL => sql`${sql.identifier(column)} >= ${timeParam(a)} and ${sql.identifier(column)} < ${timeParam(b)}`
  const parts: SQL[] = []
  const m0 = ceilTo(start, MINUTE)
  const m1 = floorTo(end, MINUTE)
  if (bucketSeconds % 60 !== 0 || m0 >= m1) {
    parts.push(rawPart(bin, sql`${device} and ${span('ts', start, end)}`))
  } else {
    // The part before the first whole minute and after the last, from raw rows (one branch: fewer to plan).
    const edges = [...(start < m0 ? [span('ts', start, m0)] : []), ...(m1 < end ? [span('ts', m1, end)] : [])]
    if (edges.length > 0) parts.push(rawPart(bin, sql`${device} and (${sql.join(edges, sql` or `)})`))
    const watermark = sql`(select watermark from telemetry_rollup_state where source = ${ROLLUP_SOURCE})`
    parts.push(rawPart(bin, sql`${device} and ${span('ts', m0, m1)} and received_at >= ${timeParam(watermarkHint)} and received_at >= ${watermark}`))
    const h0 = ceilTo(m0, HOUR)
    const h1 = floorTo(m1, HOUR)
    if (bucketSeconds % 3600 === 0 && h0 < h1) {
      const minutes = [...(m0 < h0 ? [span('bucket', m0, h0)] : []), ...(h1 < m1 ? [span('bucket', h1, m1)] : [])]
      if (minutes.length > 0) parts.push(rollupPart('telemetry_1m', bin, sql`${device} and (${sql.join(minutes, sql` or `)})`))
      parts.push(rollupPart('telemetry_1h', bin, sql`${device} and ${span('bucket', h0, h1)}`))
    } else {
      parts.push(rollupPart('telemetry_1m', bin, sql`${device} and ${span('bucket', m0, m1)}`))
    }
  }
  const results = ROLLUP_METRICS.map((m) => {
    const c = snake(m.key)
    return sql`min(${sql.raw(c)}_min) as ${sql.identifier(m.key + 'Min')}, (sum(${sql.raw(c)}_sum) / nullif(sum(${sql.raw(c)}_count), 0))::float8 as ${sql.identifier(m.key + 'Avg')}, max(${sql.raw(c)}_max) as ${sql.identifier(m.key + 'Max')}`
  })
  return sql`
    select b as bucket, sum(samples)::int as count, ${sql.join(results, sql`, `)}
    from (${sql.join(parts, sql` union all `)}) parts
    group by b having sum(samples) > 0 order by b limit ${limit}`
}

/** The watermark as epoch ms (-Infinity before the first rollup run). */
export const watermarkQuery = sql`select (extract(epoch from watermark) * 1000)::float8::text as watermark from telemetry_rollup_state where source = ${ROLLUP_SOURCE}`
