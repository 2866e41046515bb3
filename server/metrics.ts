import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The hub's Prometheus metrics, one registry per hub instance (tests run several in one process). */
export function createMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const r = [registry]
  /** Read at scrape time; the hub points them at the live objects. */
  const probes = { queuedRows: () => 0, connections: () => 0 }
  return {
    probes,
    registry,
    connections: new Gauge({ name: 'hub_mqtt_connections', help: 'Open MQTT connections (TCP, TLS and WebSocket sockets)', registers: r, collect () { this.set(probes.connections()) } }),
    connectsRefused: new Counter({ name: 'hub_mqtt_connects_refused_total', help: 'CONNECTs refused, by reason', labelNames: ['reason'], registers: r }),
    streamRejections: new Counter({ name: 'hub_mqtt_stream_rejections_total', help: 'Connections closed by the stream guard, by reason', labelNames: ['reason'], registers: r }),
    messagesIn: new Counter({ name: 'hub_mqtt_messages_in_total', help: 'PUBLISH packets received from devices, by topic kind', labelNames: ['kind'], registers: r }),
    denied: new Counter({ name: 'hub_mqtt_denied_total', help: 'Publishes and subscriptions refused by the topic ACL', labelNames: ['action'], registers: r }),
    dropped: new Counter({ name: 'hub_mqtt_dropped_total', help: 'QoS 0 publishes dropped by the per-device rate limit', registers: r }),
    batchRows: new Histogram({ name: 'hub_ingest_batch_rows', help: 'Rows per committed ingest transaction', buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2000], registers: r }),
    commitSeconds: new Histogram({ name: 'hub_ingest_commit_seconds', help: 'Ingest transaction latency', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
    samplesStored: new Counter({ name: 'hub_ingest_samples_total', help: 'Telemetry samples committed (resends included)', registers: r }),
    quarantined: new Counter({ name: 'hub_ingest_quarantined_total', help: 'Payloads quarantined, by reason', labelNames: ['reason'], registers: r }),
    writeFailures: new Counter({ name: 'hub_ingest_write_failures_total', help: 'Ingest transactions that failed (their publishes got no PUBACK)', registers: r }),
    queuedRows: new Gauge({ name: 'hub_ingest_queued_rows', help: 'Rows waiting for an ingest transaction', registers: r, collect () { this.set(probes.queuedRows()) } }),
    notifications: new Counter({ name: 'hub_notifications_total', help: 'eUICC notifications by outcome and rejection reason', labelNames: ['status', 'reason'], registers: r }),
    notificationsUnbound: new Counter({ name: 'hub_notifications_unbound_rejected_total', help: 'ES9+ notifications rejected that no device holds the EID of (counted, not stored), by reason', labelNames: ['reason'], registers: r }),
    sseClients: new Gauge({ name: 'hub_sse_clients', help: 'Open SSE streams', registers: r }),
    commands: new Counter({ name: 'hub_commands_total', help: 'Remote profile operations that ended, by op, status and error code', labelNames: ['op', 'status', 'code'], registers: r }),
    commandDeliveries: new Counter({ name: 'hub_command_deliveries_total', help: 'Command publishes to devices (resends included)', registers: r }),
    alertsRaised: new Counter({ name: 'hub_alerts_raised_total', help: 'Alerts raised, by severity', labelNames: ['severity'], registers: r }),
    alertsAcknowledged: new Counter({ name: 'hub_alerts_acknowledged_total', help: 'Alerts acknowledged, by severity', labelNames: ['severity'], registers: r }),
    alertsResolved: new Counter({ name: 'hub_alerts_resolved_total', help: 'Alerts resolved, by severity', labelNames: ['severity'], registers: r }),
    webhookAttempts: new Counter({ name: 'hub_webhook_attempts_total', help: 'Webhook delivery attempts, by outcome (delivered, retry, failed)', labelNames: ['outcome'], registers: r })
  }
}

export type HubMetrics = ReturnType<typeof createMetrics>
