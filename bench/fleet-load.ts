// The bulk load of a large fleet into Postgres that the benches share (api-latency, console): devices and
// their telemetry with `insert … select generate_series`, the telemetry primary key dropped during the
// load and rebuilt after, then VACUUM ANALYZE.
import type postgres from 'postgres'

export interface FleetSpec { devices: number, perDevice: number, days?: number, tags?: number }
export interface FleetLoad { devicesMs: number, telemetryMs: number, indexMs: number, analyzeMs: number, tableMB: number, indexMB: number }

/** Devices: `meter <n>`, created 20 s apart (newest first), tag `zone-<n mod tags>` (and `rare` on every
 * 1000th); telemetry: `perDevice` samples each over the last `days`, time-major (as ingest writes them).
 * The device ids are kept in an unlogged table `bench_ids (n, id)` for the bench to pick from. Returns
 * the load's durations in ms and the telemetry table's size. */
export async function loadFleet (sql: postgres.Sql, tenantId: string, { devices: DEVICES, perDevice, days: DAYS = 30, tags: TAGS = 20 }: FleetSpec): Promise<FleetLoad> {
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
  const indexMs = Date.now() - t0
  t0 = Date.now()
  await sql`vacuum analyze telemetry`
  await sql`vacuum analyze devices`
  const analyzeMs = Date.now() - t0
  const [size] = await sql<Array<{ table: string, index: string }>>`select pg_table_size('telemetry')::text as table, pg_indexes_size('telemetry')::text as index`
  return { devicesMs, telemetryMs, indexMs, analyzeMs, tableMB: Math.round(Number(size.table) / 1048576), indexMB: Math.round(Number(size.index) / 1048576) }
}
