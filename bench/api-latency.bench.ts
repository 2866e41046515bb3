import { Worker } from 'node:worker_threads'
import postgres from 'postgres'
import { PgDialect } from 'drizzle-orm/pg-core'
import { openDatabase } from '../server/db/database.ts'
import { bucketQuery } from '../server/telemetry/bucket-query.ts'
import { ensurePartitions, partitionedTables } from '../server/telemetry/partition-maintenance.ts'
import { rollUpAll } from '../server/telemetry/rollup-job.ts'
import { BENCH_POSTGRES_URL, benchDatabases, startBenchHub } from './bench-hub.ts'
import { boundCheck, printLine } from './bench-line.ts'
import type { HttpLoadSpec, QueryLatency } from './http-load-worker.ts'

/** API latency on Postgres with DEVICES devices and ROWS telemetry rows (100,000 and 10 million unless
 * BENCH_API_DEVICES / BENCH_API_ROWS scale them down), loaded in bulk with `insert … select
 * generate_series` into day partitions made first (the primary key and the arrival index dropped during the
 * load and rebuilt after), then rolled up per minute and hour by the hub's own rollup job (from the start: the rows carry
 * their sample time as arrival time), then VACUUM ANALYZE.
 * Every device has ROWS / DEVICES samples spread evenly over the last 30 days, and the samples are
 * written in time order across the fleet, as ingest writes them (so one device's rows are scattered
 * over the table, not packed together). Then CONCURRENCY clients (a worker thread, keep-alive HTTP with
 * a bearer token) send REQUESTS requests of each kind in turn: the device list's first page, a page
 * filtered by a tag and one by `q`, pages behind deep cursors, a device's raw telemetry over 30 days and
 * its hourly buckets over 30 days (random devices). Target p99 ≤ 20 ms for each. One JSON line. */
const DEVICES = Number(process.env.BENCH_API_DEVICES ?? 100_000)
const ROWS = Number(process.env.BENCH_API_ROWS ?? 10_000_000)
const CONCURRENCY = Number(process.env.BENCH_API_CONCURRENCY ?? 16)
const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 2000)
const WARMUP = Number(process.env.BENCH_API_WARMUP ?? 200)
const TARGET_P99_MS = 20
const DAYS = 30
const TAGS = 20

function runHttpLoad (spec: HttpLoadSpec): Promise<QueryLatency[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./http-load-worker-entry.js', import.meta.url), { workerData: spec })
    worker.once('message', (msg: { result?: QueryLatency[], error?: string }) => {
      worker.terminate().catch(() => {})
      if (msg.error !== undefined) reject(new Error(msg.error))
      else resolve(msg.result as QueryLatency[])
    })
    worker.once('error', reject)
  })
}

/** Devices: `meter <n>`, created 20 s apart (newest first), tag `zone-<n mod 20>` (and `rare` on every
 * 1000th); telemetry: `perDevice` samples each, time-major. Returns the load's duration in ms. */
async function load (sql: postgres.Sql, databaseUrl: string, tenantId: string, perDevice: number): Promise<{ devicesMs: number, telemetryMs: number, indexMs: number, rollupMs: number, analyzeMs: number, tableMB: number, indexMB: number, rollupMB: number }> {
  const database = await openDatabase(databaseUrl, { poolSize: 2 })
  const tables = partitionedTables({ telemetryDays: 0, rollupDays: 0 })
  for (const t of tables) await ensurePartitions(database, t, Date.now() - (DAYS + 1) * 86400_000, Date.now())
  let t0 = Date.now()
  await sql`create unlogged table bench_ids as select n, md5('bench-device-' || n)::uuid::text as id from generate_series(1, ${DEVICES}::int) n`
  await sql`
    insert into devices (id, tenant_id, name, tags, secret_hash, created_at, updated_at)
    select b.id, ${tenantId}::uuid, 'meter ' || b.n,
      case when b.n % 1000 = 0 then array['zone-' || (b.n % ${TAGS}::int), 'rare'] else array['zone-' || (b.n % ${TAGS}::int)] end,
      md5('secret-' || b.n), date_trunc('milliseconds', now()) - b.n * interval '20 seconds', now()
    from bench_ids b`
  const devicesMs = Date.now() - t0
  t0 = Date.now()
  await sql`alter table telemetry drop constraint telemetry_device_id_ts_seq_pk`
  await sql`drop index telemetry_received_at_idx`
  const step = (DAYS * 86400) / perDevice
  const chunk = Math.max(1, Math.floor(500_000 / DEVICES))
  for (let g0 = 0; g0 < perDevice; g0 += chunk) {
    const g1 = Math.min(perDevice, g0 + chunk) - 1
    await sql`
      insert into telemetry (device_id, ts, seq, received_at, rsrp, rsrq, sinr, rat, mcc, mnc, cell_id, tac, band, bytes_up, bytes_down, battery, temperature, uptime)
      select b.id, t.ts, g, t.ts, -70 - (b.n + g) % 60, -8 - g % 10, 5 + (b.n * 7 + g) % 20, 'LTE', '310', '260', 100000 + b.n % 5000, 1000 + b.n % 300, 2 + g % 3,
        g * 1200, g * 9000, 100 - g % 100, 15 + (b.n + g) % 30, g * 3600
      from generate_series(${g0}::int, ${g1}::int) g
      cross join bench_ids b
      cross join lateral (select now() - ${DAYS + ' days'}::interval + ((g + (b.n % 997) / 997.0) * ${step}::float8) * interval '1 second' as ts) t`
  }
  const telemetryMs = Date.now() - t0
  t0 = Date.now()
  await sql`set maintenance_work_mem = '512MB'`
  await sql`alter table telemetry add constraint telemetry_device_id_ts_seq_pk primary key (device_id, ts, seq)`
  await sql`create index telemetry_received_at_idx on telemetry (received_at)`
  const indexMs = Date.now() - t0
  t0 = Date.now()
  await sql`update telemetry_rollup_state set watermark = '-infinity'`
  await rollUpAll(database, { batchRows: 1_000_000, marginMs: 1000 })
  await database.close()
  const rollupMs = Date.now() - t0
  t0 = Date.now()
  await sql`vacuum analyze telemetry`
  await sql`vacuum analyze telemetry_1m`
  await sql`vacuum analyze telemetry_1h`
  await sql`vacuum analyze devices`
  const analyzeMs = Date.now() - t0
  const [size] = await sql<Array<{ table: string, index: string, rollup: string }>>`
    select sum(pg_table_size(c.oid))::text as table, sum(pg_indexes_size(c.oid))::text as index,
      (select sum(pg_total_relation_size(r.oid)) from pg_inherits ri join pg_class r on r.oid = ri.inhrelid where ri.inhparent in ('telemetry_1m'::regclass, 'telemetry_1h'::regclass))::text as rollup
    from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'telemetry'::regclass`
  const mb = (v: string) => Math.round(Number(v) / 1048576)
  return { devicesMs, telemetryMs, indexMs, rollupMs, analyzeMs, tableMB: mb(size.table), indexMB: mb(size.index), rollupMB: mb(size.rollup) }
}

/** The repositories' statements for the same requests (as server/repositories writes them), each run
 * under EXPLAIN (ANALYZE, BUFFERS) after the HTTP load: the database's own share of each request. With
 * BENCH_API_PLANS=1 the plans go to stderr. */
async function explain (sql: postgres.Sql, tenantId: string, deviceId: string, cursor: { createdAt: string, id: string }, from: Date, to: Date): Promise<Record<string, { ms: number, plan: string }>> {
  const [{ watermark }] = await sql<Array<{ watermark: string }>>`select (extract(epoch from watermark) * 1000)::float8::text as watermark from telemetry_rollup_state`
  const buckets = new PgDialect().sqlToQuery(bucketQuery(deviceId, 3600, from, to, 1000, Number(watermark)))
  const cols = 'id, tenant_id, name, eid, imei, tags, esim_agent, disabled, site, plan_id, last_seen_at, created_at, updated_at'
  const list = (where: string): string => `select ${cols} from devices where tenant_id = '${tenantId}' ${where} order by created_at desc, id desc limit 101`
  const pageIds = (await sql.unsafe<Array<{ id: string }>>(list(''))).map((r) => r.id)
  const idArray = `array[${pageIds.map((id) => `'${id}'`).join(',')}]::text[]`
  const range = `ts >= '${from.toISOString()}'::timestamptz and ts <= '${to.toISOString()}'::timestamptz`
  const recent = new Date(Date.now() - 2 * 86400_000).toISOString()
  const statements: Record<string, string> = {
    'devices first page': list(''),
    'devices by tag': list('and tags @> array[\'zone-7\']::text[]'),
    'devices by q': list('and (name ilike \'%meter 42%\' or id ilike \'%meter 42%\' or eid ilike \'%meter 42%\' or imei ilike \'%meter 42%\')'),
    'devices by q (id fragment)': list(`and (name ilike '%${deviceId.slice(0, 8)}%' or id ilike '%${deviceId.slice(0, 8)}%' or eid ilike '%${deviceId.slice(0, 8)}%' or imei ilike '%${deviceId.slice(0, 8)}%')`),
    'devices deep cursor': list(`and (created_at, id) < ('${cursor.createdAt}'::timestamptz, '${cursor.id}')`),
    'page: newest sample of 100 devices': `select t.* from unnest(${idArray}) as d(id) cross join lateral (select * from telemetry where device_id = d.id and ts >= '${recent}'::timestamptz order by ts desc, seq desc limit 1) t`,
    'page: notification summary of 100 devices': `select d.id, c.accepted from unnest(${idArray}) as d(id) cross join lateral (select count(*) filter (where status = 'accepted')::int as accepted from notifications where device_id = d.id) c`,
    'telemetry raw 30 d': `select * from telemetry where device_id = '${deviceId}' and ${range} order by ts, seq limit 1001`,
    'telemetry 1 h buckets 30 d': buckets.sql
  }
  const out: Record<string, { ms: number, plan: string }> = {}
  for (const [name, statement] of Object.entries(statements)) {
    const params = statement === buckets.sql ? buckets.params as postgres.ParameterOrJSON<never>[] : []
    const rows = await sql.unsafe<Array<{ 'QUERY PLAN': string }>>('explain (analyze, buffers) ' + statement, params)
    const lines = rows.map((r) => r['QUERY PLAN'])
    const ms = Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? NaN)
    out[name] = { ms, plan: lines[0].trim().replace(/\s+\(cost=.*$/, '') + (lines.some((l) => /Sort/.test(l)) ? ' + Sort' : '') }
    if (process.env.BENCH_API_PLANS === '1') process.stderr.write(`--- ${name}\n${lines.join('\n')}\n`)
  }
  return out
}

const postgresDb = (await benchDatabases()).find((d) => d.name === 'postgres') ?? { name: 'postgres' as const, serverUrl: BENCH_POSTGRES_URL, unavailable: undefined }
const details = { database: 'postgres', devices: DEVICES, telemetryRows: ROWS, concurrency: CONCURRENCY, requestsPerQuery: REQUESTS }
if (postgresDb.unavailable !== undefined) {
  printLine('api-latency', { ...details, skipped: postgresDb.unavailable }, [])
} else {
  const bench = await startBenchHub({}, postgresDb.serverUrl)
  const sql = postgres(bench.databaseUrl, { max: 1, onnotice: () => {} })
  try {
    const perDevice = Math.max(1, Math.round(ROWS / DEVICES))
    const loaded = await load(sql, bench.databaseUrl, bench.tenantId, perDevice)
    const base = bench.hub.httpUrl
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@localhost', password: 'bench-admin-password' }) })
    if (login.status !== 200) throw new Error(`login answered ${login.status}: ${await login.text()}`)
    const { accessToken } = await login.json() as { accessToken: string }

    const pick = (count: number): number[] => Array.from({ length: count }, () => 1 + Math.floor(Math.random() * DEVICES))
    const ids = await sql<Array<{ id: string }>>`select id from bench_ids where n = any(${pick(500)}::int[])`
    const cursorRows: Array<{ createdAt: string, id: string }> = []
    for (const depth of [0.5, 0.75, 0.9, 0.99].map((f) => Math.floor(f * DEVICES))) {
      const [row] = await sql<Array<{ createdAt: Date, id: string }>>`
        select created_at as "createdAt", id from devices where tenant_id = ${bench.tenantId}::uuid order by created_at desc, id desc offset ${depth} limit 1`
      if (row !== undefined) cursorRows.push({ createdAt: row.createdAt.toISOString(), id: row.id })
    }
    const cursors = cursorRows.map((r) => Buffer.from(JSON.stringify([r.createdAt, r.id])).toString('base64url'))
    const to = new Date()
    const from = new Date(to.getTime() - DAYS * 86400_000)
    const range = `from=${from.toISOString()}&to=${to.toISOString()}`
    const queries = [
      { name: 'devices first page', paths: ['/api/devices'] },
      { name: 'devices by tag', paths: Array.from({ length: TAGS }, (_, i) => `/api/devices?tag=zone-${i}`).concat(['/api/devices?tag=rare']) },
      { name: 'devices by q', paths: ['/api/devices?q=meter%2042', '/api/devices?q=meter%20777', '/api/devices?q=' + ids[0].id.slice(0, 8)] },
      { name: 'devices deep cursor', paths: cursors.map((c) => `/api/devices?cursor=${c}`) },
      { name: 'telemetry raw 30 d', paths: ids.map((r) => `/api/devices/${r.id}/telemetry?${range}`) },
      { name: 'telemetry 1 h buckets 30 d', paths: ids.map((r) => `/api/devices/${r.id}/telemetry?bucket=1h&${range}`) }
    ]
    const results = await runHttpLoad({ baseUrl: base, token: accessToken, concurrency: CONCURRENCY, requests: REQUESTS, warmup: WARMUP, queries })
    const plans = await explain(sql, bench.tenantId, ids[0].id, cursorRows[2] ?? cursorRows[0], from, to)
    printLine('api-latency', {
      ...details,
      samplesPerDevice: perDevice,
      load: loaded,
      queries: results,
      databaseExecutionMs: Object.fromEntries(Object.entries(plans).map(([k, v]) => [k, v.ms])),
      plans: Object.fromEntries(Object.entries(plans).map(([k, v]) => [k, v.plan]))
    }, results.map((r) => ({ ...boundCheck(`p99Ms ${r.name}`, r.p99Ms, 'ms', TARGET_P99_MS), ...(r.errors > 0 ? { pass: false, errors: r.errors } : {}) })))
  } finally {
    await sql.end({ timeout: 2 })
    await bench.close()
  }
}
