import { sql, type SQL } from 'drizzle-orm'
import type { NewTelemetryRow } from '../db/schema/index.ts'
import { bigintArray, resultRows, textArray } from '../db/sql-values.ts'

/** A telemetry sample the ingest just inserted (a resend is not one: ON CONFLICT left it out), with at
 * least one of the modem's cumulative counters. */
export interface CounterSample { deviceId: string, ts: Date, seq: number, bytesUp: number | null, bytesDown: number | null }

/** The last counter values read from a device and the sample they came from. */
export interface CounterState { bytesUp: number | null, bytesDown: number | null, lastTs: Date | null, lastSeq: number | null }

/** Bytes used by one device on one UTC day (`month` is that day's month, as its first day). */
export interface UsageDelta { deviceId: string, day: string, month: string, bytesUp: number, bytesDown: number }

export const hasUsageCounters = (row: NewTelemetryRow): boolean =>
  (row.bytesUp !== undefined && row.bytesUp !== null) || (row.bytesDown !== undefined && row.bytesDown !== null)

/** How much a counter moved: its increase, or, when it went down (the modem rebooted and started again
 * from 0), its new value. A device's first reading counts whole: the counter is "since its boot".
 * Never negative. */
export function counterDelta (previous: number | null, current: number): number {
  if (previous === null || current < previous) return current
  return current - previous
}

const after = (s: CounterSample, state: CounterState): boolean => {
  if (state.lastTs === null) return true
  const dt = s.ts.getTime() - state.lastTs.getTime()
  return dt > 0 || (dt === 0 && s.seq > (state.lastSeq ?? -1))
}

/** The usage the new samples add, per device and day, and each device's counters afterwards. Samples are
 * read in (ts, seq) order per device; one older than the device's last reading adds nothing (the bytes
 * it saw are already in the difference between the readings on either side of it). */
export function usageDeltas (samples: readonly CounterSample[], states: ReadonlyMap<string, CounterState>): { deltas: UsageDelta[], next: Map<string, CounterState> } {
  const byDevice = new Map<string, CounterSample[]>()
  for (const s of samples) {
    const list = byDevice.get(s.deviceId)
    if (list === undefined) byDevice.set(s.deviceId, [s])
    else list.push(s)
  }
  const deltas = new Map<string, UsageDelta>()
  const next = new Map<string, CounterState>()
  for (const [deviceId, list] of byDevice) {
    list.sort((a, b) => a.ts.getTime() - b.ts.getTime() || a.seq - b.seq)
    const state: CounterState = { ...(states.get(deviceId) ?? { bytesUp: null, bytesDown: null, lastTs: null, lastSeq: null }) }
    let changed = false
    for (const s of list) {
      if (!after(s, state)) continue
      let up = 0
      let down = 0
      if (s.bytesUp !== null) { up = counterDelta(state.bytesUp, s.bytesUp); state.bytesUp = s.bytesUp }
      if (s.bytesDown !== null) { down = counterDelta(state.bytesDown, s.bytesDown); state.bytesDown = s.bytesDown }
      state.lastTs = s.ts
      state.lastSeq = s.seq
      changed = true
      if (up === 0 && down === 0) continue
      const day = s.ts.toISOString().slice(0, 10)
      const key = deviceId + '\u0000' + day
      const delta = deltas.get(key)
      if (delta === undefined) deltas.set(key, { deviceId, day, month: day.slice(0, 8) + '01', bytesUp: up, bytesDown: down })
      else { delta.bytesUp += up; delta.bytesDown += down }
    }
    if (changed) next.set(deviceId, state)
  }
  return { deltas: [...deltas.values()], next }
}

/** What an ingest insert returns for usage: the inserted rows' key and counters (times as epoch ms, the
 * same on both drivers). */
export const COUNTED_RETURNING = sql`returning device_id, (extract(epoch from ts) * 1000)::float8 as ts_ms, seq, bytes_up, bytes_down`

interface Executor { execute (query: SQL): Promise<unknown> }

const num = (v: unknown): number | null => v === null || v === undefined ? null : Number(v)

/** Adds the usage of just-inserted samples, inside the ingest transaction that inserted them (so a
 * sample counts exactly when it is stored, and a resend, which is not inserted, never counts twice).
 * The devices' counter rows are locked in id order first (an upsert takes the row lock and returns the
 * newest committed values), so concurrent batches of one device apply one after the other. */
export async function recordUsage (tx: Executor, samples: readonly CounterSample[]): Promise<void> {
  if (samples.length === 0) return
  const ids = [...new Set(samples.map((s) => s.deviceId))].sort()
  const locked = resultRows<Record<string, unknown>>(await tx.execute(sql`
    insert into usage_counters (device_id) select unnest(${textArray(ids)})
    on conflict (device_id) do update set device_id = excluded.device_id
    returning device_id, bytes_up, bytes_down, (extract(epoch from last_ts) * 1000)::float8 as last_ts_ms, last_seq`))
  const states = new Map<string, CounterState>()
  for (const row of locked) {
    states.set(row.device_id as string, {
      bytesUp: num(row.bytes_up),
      bytesDown: num(row.bytes_down),
      lastTs: row.last_ts_ms === null || row.last_ts_ms === undefined ? null : new Date(Number(row.last_ts_ms)),
      lastSeq: num(row.last_seq)
    })
  }
  const { deltas, next } = usageDeltas(samples, states)
  if (next.size === 0) return
  const months = new Map<string, UsageDelta>()
  for (const d of deltas) {
    const key = d.deviceId + '\u0000' + d.month
    const m = months.get(key)
    if (m === undefined) months.set(key, { ...d })
    else { m.bytesUp += d.bytesUp; m.bytesDown += d.bytesDown }
  }
  const monthly = [...months.values()]
  const counters = [...next]
  const nullable = (values: Array<number | null>) => sql`${sql.param(values)}::bigint[]`
  await tx.execute(sql`
    with daily as (
      insert into usage_daily (device_id, day, bytes_up, bytes_down)
      select * from unnest(${textArray(deltas.map((d) => d.deviceId))}, ${textArray(deltas.map((d) => d.day))}::date[], ${bigintArray(deltas.map((d) => d.bytesUp))}, ${bigintArray(deltas.map((d) => d.bytesDown))})
      on conflict (device_id, day) do update set bytes_up = usage_daily.bytes_up + excluded.bytes_up, bytes_down = usage_daily.bytes_down + excluded.bytes_down
    ), monthly as (
      insert into usage_monthly (device_id, month, bytes_up, bytes_down)
      select * from unnest(${textArray(monthly.map((d) => d.deviceId))}, ${textArray(monthly.map((d) => d.month))}::date[], ${bigintArray(monthly.map((d) => d.bytesUp))}, ${bigintArray(monthly.map((d) => d.bytesDown))})
      on conflict (device_id, month) do update set bytes_up = usage_monthly.bytes_up + excluded.bytes_up, bytes_down = usage_monthly.bytes_down + excluded.bytes_down
    )
    update usage_counters c set bytes_up = s.up, bytes_down = s.down, last_ts = s.ts, last_seq = s.seq, updated_at = now()
    from unnest(${textArray(counters.map(([id]) => id))}, ${nullable(counters.map(([, s]) => s.bytesUp))}, ${nullable(counters.map(([, s]) => s.bytesDown))},
      ${textArray(counters.map(([, s]) => (s.lastTs as Date).toISOString()))}::timestamptz[], ${nullable(counters.map(([, s]) => s.lastSeq))}) as s(device_id, up, down, ts, seq)
    where c.device_id = s.device_id`)
}

/** The inserted rows `COUNTED_RETURNING` gave back, as samples. */
export function countedSamples (rows: ReadonlyArray<Record<string, unknown>>): CounterSample[] {
  return rows.map((row) => ({
    deviceId: row.device_id as string,
    ts: new Date(Number(row.ts_ms)),
    seq: Number(row.seq),
    bytesUp: num(row.bytes_up),
    bytesDown: num(row.bytes_down)
  }))
}
