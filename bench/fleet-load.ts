// The bulk load of a large fleet into Postgres that the benches share (api-latency, console): the day
// partitions the load spans made first, devices and their telemetry with `insert … select
// generate_series`, the telemetry key and arrival index dropped during the load and rebuilt after, the
// rollups built by the hub's own rollup job, then VACUUM ANALYZE.
import type postgres from 'postgres'
import { openDatabase } from '../server/db/database.ts'
import { ensurePartitions, partitionedTables } from '../server/telemetry/partition-maintenance.ts'
import { rollUpAll } from '../server/telemetry/rollup-job.ts'

export interface FleetSpec { devices: number, perDevice: number, days?: number, tags?: number }
export interface FleetLoad { devicesMs: number, telemetryMs: number, indexMs: number, rollupMs: number, analyzeMs: number, tableMB: number, indexMB: number, rollupMB: number }

/** Devices: `meter <n>`, created 20 s apart (newest first), tag `zone-<n mod tags>` (and `rare` on every
 * 1000th); telemetry: `perDevice` samples each over the last `days`, time-major (as ingest writes them).
 * The device ids are kept in an unlogged table `bench_ids (n, id)` for the bench to pick from. Returns
 * the load's durations in ms and the sizes of the telemetry partitions and of the rollups. */
export async function loadFleet (sql: postgres.Sql, databaseUrl: string, tenantId: string, { devices: DEVICES, perDevice, days: DAYS = 30, tags: TAGS = 20 }: FleetSpec): Promise<FleetLoad> {
  const database = await openDatabase(databaseUrl, { poolSize: 2 })
  for (const t of partitionedTables({ telemetryDays: 0, rollupDays: 0 })) await ensurePartitions(database, t, Date.now() - (DAYS + 1) * 86400_000, Date.now())
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
