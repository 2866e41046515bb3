import fp from 'fastify-plugin'
import { maintainPartitions, partitionedTables } from '../telemetry/partition-maintenance.ts'
import { rollUpAll, rollupOptionsFor } from '../telemetry/rollup-job.ts'

export interface TelemetryMaintenanceOptions {
  /** How often the rollup job runs (ms; default 5000). */
  rollupMs?: number
  /** How often partitions are made ahead and expired ones dropped (ms; default one hour). */
  partitionMs?: number
}

/** The telemetry tables' upkeep (docs/ingest.md "Partitions, retention and rollups"): the partition pass
 * once the app is ready and then hourly (partitions a week ahead, retention), and the rollup job every
 * few seconds, each run after the previous one has finished. Closed with the hub: the timers stop and a
 * run under way is awaited (a run is one transaction, so stopping between runs loses nothing). */
export const telemetryMaintenancePlugin = fp(async (app, opts: TelemetryMaintenanceOptions) => {
  const { database, config } = app
  const tables = partitionedTables({ telemetryDays: config.telemetryRetentionDays, rollupDays: config.rollupRetentionDays })
  const timers: NodeJS.Timeout[] = []
  let closed = false
  const running = new Set<Promise<void>>()
  const every = (ms: number, name: string, work: () => Promise<unknown>) => {
    let busy = false
    const run = () => {
      if (busy || closed) return
      busy = true
      const done = work().then(() => {}, (err: Error) => app.log.warn({ err: err.message }, `telemetry ${name} failed; the next run tries again`))
        .finally(() => { busy = false; running.delete(done) })
      running.add(done)
    }
    timers.push(setInterval(run, ms).unref())
    return run
  }
  const partitions = every(opts.partitionMs ?? 3_600_000, 'partition maintenance', async () => {
    const report = await maintainPartitions(database, tables)
    if (report.created.length + report.dropped.length + report.moved + report.deleted > 0) app.log.info(report, 'telemetry partitions maintained')
  })
  // At most a million rows a tick, whatever the run's size; the rest waits for the next tick.
  const rollup = rollupOptionsFor(database.driver)
  every(opts.rollupMs ?? 5000, 'rollup', () => rollUpAll(database, rollup, Math.ceil(1_000_000 / rollup.batchRows)))
  app.addHook('onReady', async () => { partitions() })
  app.addHook('onClose', async () => {
    closed = true
    for (const timer of timers) clearInterval(timer)
    await Promise.all(running)
  })
}, { name: 'telemetry-maintenance', dependencies: ['config', 'database'] })
