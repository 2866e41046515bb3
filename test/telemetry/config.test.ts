// HUB_TELEMETRY_RETENTION_DAYS and HUB_ROLLUP_RETENTION_DAYS are validated at start like every setting.
import t from 'tap'
import { loadConfig } from '../../server/config.ts'
import { partitionedTables } from '../../server/telemetry/partition-maintenance.ts'

t.test('retention settings: defaults, valid values, clear refusals', async (t) => {
  t.match(loadConfig({}), { telemetryRetentionDays: 0, rollupRetentionDays: 0 }, 'default: everything kept')
  t.match(loadConfig({ HUB_TELEMETRY_RETENTION_DAYS: '30' }), { telemetryRetentionDays: 30, rollupRetentionDays: 0 })
  t.match(loadConfig({ HUB_TELEMETRY_RETENTION_DAYS: '30', HUB_ROLLUP_RETENTION_DAYS: '365' }), { telemetryRetentionDays: 30, rollupRetentionDays: 365 })
  for (const bad of ['-1', '1.5', 'thirty', '36501']) {
    t.throws(() => loadConfig({ HUB_TELEMETRY_RETENTION_DAYS: bad }), { code: 'HUB_ERR_CONFIG', message: /HUB_TELEMETRY_RETENTION_DAYS=".*" must be .*integer from 0 \(keep forever\)/ }, bad)
    t.throws(() => loadConfig({ HUB_TELEMETRY_RETENTION_DAYS: '7', HUB_ROLLUP_RETENTION_DAYS: bad }), { code: 'HUB_ERR_CONFIG', message: /HUB_ROLLUP_RETENTION_DAYS=".*" must be/ }, bad)
  }
  t.throws(() => loadConfig({ HUB_TELEMETRY_RETENTION_DAYS: '30', HUB_ROLLUP_RETENTION_DAYS: '90' }), { message: /HUB_ROLLUP_RETENTION_DAYS=90 must be at least 4 × HUB_TELEMETRY_RETENTION_DAYS/ }, 'rollups outlive minute rollups')
  t.throws(() => loadConfig({ HUB_ROLLUP_RETENTION_DAYS: '90' }), { message: /needs HUB_TELEMETRY_RETENTION_DAYS set/ }, 'rollups dropped while raw rows are kept forever')
})

t.test('how long each table keeps its rows', async (t) => {
  const keep = (telemetryDays: number, rollupDays: number) => Object.fromEntries(partitionedTables({ telemetryDays, rollupDays }).map((p) => [p.table, p.keepDays]))
  t.same(keep(0, 0), { telemetry: 0, telemetry_1m: 0, telemetry_1h: 0 }, 'forever by default')
  t.same(keep(30, 0), { telemetry: 30, telemetry_1m: 120, telemetry_1h: 0 }, 'minute rollups 4 × raw, hour rollups forever')
  t.same(keep(30, 365), { telemetry: 30, telemetry_1m: 120, telemetry_1h: 365 })
  t.same(keep(30, 120), { telemetry: 30, telemetry_1m: 120, telemetry_1h: 120 })
})
