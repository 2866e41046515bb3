import fp from 'fastify-plugin'
import { NotificationPipeline } from '../notifications/notification-pipeline.ts'
import { NotificationStore } from '../notifications/notification-store.ts'
import { VerifyPool } from '../notifications/verify-pool.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** eUICC notifications (MQTT and ES9+): verified, applied to the inventory, one at a time. */
    notifications: NotificationPipeline
  }
}

/** The notification pipeline and its verify pool (worker threads, one per core, started on first use).
 * Once the app is ready it processes what the previous run committed to the ES9+ inbox and did not
 * finish; at close it waits for the queue to empty, then ends the workers. */
export const notificationsPlugin = fp(async (app) => {
  const pool = new VerifyPool()
  const notifications = new NotificationPipeline({
    store: new NotificationStore(app.database),
    inventory: app.inventory,
    certificates: app.euiccCertificates,
    trust: app.trustStore,
    bus: app.bus,
    metrics: app.metrics,
    pool,
    onError: (err) => app.log.error({ err }, 'notification processing failed; it stays in the inbox')
  })
  app.decorate('notifications', notifications)
  app.addHook('onReady', async () => {
    const recovered = await notifications.recoverInbox()
    if (recovered > 0) app.log.info({ recovered }, 'processed the ES9+ notifications the previous run left in the inbox')
  })
  app.addHook('onClose', async () => {
    await notifications.close()
    await pool.close()
  })
}, { name: 'notifications', dependencies: ['database', 'bus', 'metrics', 'trust-store', 'inventory'] })
