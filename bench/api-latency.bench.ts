import { Worker } from 'node:worker_threads'
import postgres from 'postgres'
import { PgDialect } from 'drizzle-orm/pg-core'
import { bucketQuery } from '../server/telemetry/bucket-query.ts'
import { BENCH_POSTGRES_URL, benchDatabases, startBenchHub } from './bench-hub.ts'
import { boundCheck, printLine } from './bench-line.ts'
import { loadFleet } from './fleet-load.ts'
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
    const loaded = await loadFleet(sql, bench.databaseUrl, bench.tenantId, { devices: DEVICES, perDevice, days: DAYS, tags: TAGS })
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
