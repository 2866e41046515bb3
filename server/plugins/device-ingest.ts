import fp from 'fastify-plugin'
import { DeviceIngest } from '../ingest/device-ingest.ts'
import { IngestBatcher, type IngestBatcherOptions } from '../ingest/ingest-batcher.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Durable telemetry and quarantine writes: batched, bounded, committed before the PUBACK. */
    ingestBatcher: IngestBatcher
    /** What happens to each device publish before its PUBACK (ingest/device-ingest.ts). */
    deviceIngest: DeviceIngest
  }
}

/** The ingest path. The batcher is registered after the services, so it closes before them and after the
 * broker: at close it finishes every queued write (docs/ingest.md "Shutdown"). */
export const deviceIngestPlugin = fp(async (app, opts: Partial<IngestBatcherOptions>) => {
  const { database, metrics } = app
  const batcher = new IngestBatcher(database, {
    maxBatchRows: opts.maxBatchRows ?? 2000,
    maxConcurrentWrites: opts.maxConcurrentWrites ?? (database.driver === 'pglite' ? 1 : 4)
  }, {
    committed: (rows, quarantined, seconds) => {
      metrics.batchRows.observe(rows + quarantined)
      metrics.commitSeconds.observe(seconds)
    },
    failed: (rows, err) => {
      metrics.writeFailures.inc()
      app.log.error({ rows, err: err.message }, 'ingest write failed; publishes are not acknowledged and will be resent')
    }
  })
  metrics.probes.queuedRows = () => batcher.queued
  app.decorate('ingestBatcher', batcher)
  app.addHook('onClose', async () => { await batcher.close() })
  app.decorate('deviceIngest', new DeviceIngest({
    batcher,
    bus: app.bus,
    metrics,
    notifications: app.notifications,
    inventory: app.inventory,
    commands: app.commands,
    sendToDevice: app.sendToDevice
  }))
}, { name: 'device-ingest', dependencies: ['database', 'bus', 'metrics', 'notifications', 'inventory', 'commands', 'broker'] })
