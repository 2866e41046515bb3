import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import { AlertEvaluator, type AlertEvaluatorOptions } from '../alerts/alert-evaluator.ts'
import { AlertStore } from '../alerts/alert-store.ts'
import { tapLocalPublishes } from '../alerts/local-events.ts'
import { PlanStore } from '../usage/plans.ts'
import { WebhookDelivery, type WebhookDeliveryOptions } from '../webhooks/webhook-delivery.ts'
import { WebhookOutbox } from '../webhooks/webhook-outbox.ts'
import { WebhookStore } from '../webhooks/webhook-store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Alert rules and alerts, and their transitions (server/alerts/). */
    alertStore: AlertStore
    /** Evaluates the rules after each commit, in batches, and sweeps (server/alerts/alert-evaluator.ts). */
    alertEvaluator: AlertEvaluator
    /** Webhooks and their delivery log (server/webhooks/). */
    webhookStore: WebhookStore
    /** Data plans and the usage the ingest counts (server/usage/). */
    plans: PlanStore
  }
}

export interface AlertsOptions {
  evaluator?: AlertEvaluatorOptions
  webhooks?: Omit<WebhookDeliveryOptions, 'allowPrivate'>
}

/** Alerts, webhooks and usage (docs/alerts.md). The events this process publishes feed the webhook outbox
 * and the alert evaluator (each only queues; both write after the event's own commit). At start the
 * outbox is read again, so what a previous run accepted and did not deliver is sent. On close: the
 * evaluator runs its last batch, the outbox writes what it holds, deliveries in flight are ended and
 * their claims handed back. */
export const alertsPlugin = fp(async (app, opts: AlertsOptions) => {
  const logger = app.log as Logger
  const delivery = new WebhookDelivery(app.database, app.metrics, logger, { ...opts.webhooks, allowPrivate: app.config.webhookAllowPrivate })
  const outbox = new WebhookOutbox(app.database, {
    publicUrl: app.config.publicUrl,
    written: delivery.kick,
    onError: (err) => app.log.error({ err: err.message }, 'writing webhook deliveries failed')
  })
  const store = new AlertStore({ database: app.database, bus: app.bus, metrics: app.metrics, outbox })
  const plans = new PlanStore(app.database)
  const evaluator = await AlertEvaluator.start({ database: app.database, store, plans, presence: app.presence, logger, options: opts.evaluator })
  const untap = tapLocalPublishes(app.bus, (event) => {
    outbox.accept(event)
    evaluator.observe(event)
  })
  app.decorate('alertStore', store)
  app.decorate('alertEvaluator', evaluator)
  app.decorate('webhookStore', new WebhookStore(app.database))
  app.decorate('plans', plans)
  app.addHook('onReady', async () => { delivery.kick() })
  app.addHook('onClose', async () => {
    untap()
    await evaluator.close()
    await outbox.close()
    await delivery.close()
  })
}, { name: 'alerts', dependencies: ['config', 'database', 'bus', 'metrics', 'presence'] })
