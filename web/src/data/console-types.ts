// Shapes of the API answers the operations console reads (devices' details, commands, campaigns,
// administration). The fleet's own shapes are in types.ts.
import type { AlertEventData, CampaignEventData, CommandEventData } from '../../../protocol/events.ts'
import type { AlertMetric } from '../../../server/alerts/alert-rules.ts'
import type { WebhookEventType } from '../../../server/webhooks/webhook-outbox.ts'
import type { Device } from './types.ts'

/** The device view with the fields the console reads beyond the fleet table's. */
export type DeviceDetail = Device & { site?: string | null, disabled?: boolean, esimAgent?: 'lpa' | 'ipa', updatedAt?: string }

export interface Operator { id: string, name: string, country: string, mcc: string, mnc: string, iccidPrefix: string }

export interface Profile {
  eid: string
  iccid: string
  state: string
  seqNumber: number | null
  cause: string
  changedAt: string
  reportedState: string | null
  reportedAt: string | null
  conflict: string | null
  name: string | null
  spn: string | null
  operator: { id: string, name: string, mcc: string, mnc: string } | null
}

export interface DeviceNotification {
  id: number
  seqNumber: number | null
  kind: string | null
  operation: string | null
  iccid: string | null
  status: string
  reason: string | null
  detail: string | null
  source: string
  receivedAt: string
  verifiedAt: string | null
}

export type CommandStatus = CommandEventData['status']
export type Command = CommandEventData & {
  activationCode?: string | null
  deliveries?: number
  result?: Record<string, unknown> | null
}

export const commandOps = ['enable', 'disable', 'delete', 'listProfiles', 'download', 'setFallback', 'unsetFallback'] as const
export type CommandOp = typeof commandOps[number]

export type Campaign = CampaignEventData & {
  iccid: string | null
  activationCode: string | null
  filter: Record<string, unknown>
  ratePerMinute: number
  concurrency: number
  failureThreshold: number
  ttlSeconds: number
  requestedBy: string
  createdAt: string
  updatedAt: string
  finishedAt: string | null
}

export type Alert = AlertEventData
export type AlertKind = Alert['kind']
export type AlertSeverity = Alert['severity']
export type AlertState = Alert['state']
export const alertKinds: readonly AlertKind[] = ['metric', 'offline', 'data-usage', 'notification-rejected', 'command-failed']
export const alertSeverities: readonly AlertSeverity[] = ['critical', 'warning', 'info']
export const alertStates: readonly AlertState[] = ['open', 'acknowledged', 'resolved']
/** The telemetry metrics a `metric` rule may watch (server/alerts/alert-rules.ts ALERT_METRICS). */
export const alertMetrics = ['rsrp', 'rsrq', 'sinr', 'rssi', 'battery', 'temperature', 'bytesUp', 'bytesDown', 'uptime', 'band', 'cellId', 'tac', 'lat', 'lon'] as const satisfies readonly AlertMetric[]

export interface AlertRule {
  id: string
  name: string
  kind: AlertKind
  metric: string | null
  op: '<' | '>' | null
  threshold: number | null
  forSeconds: number
  severity: AlertSeverity
  filter: { tag?: string, operator?: string, site?: string }
  enabled: boolean
  createdAt: string
  updatedAt: string
}

export interface Plan { id: string, name: string, quotaBytes: number, period: 'day' | 'month', createdAt: string }
/** `GET /api/devices/:id/usage?period=`: per period, and the device's plan with what it used this period. */
export interface Usage {
  period: 'day' | 'month'
  items: Array<{ periodStart: string, bytesUp: number, bytesDown: number }>
  plan: { id: string, quotaBytes: number, period: 'day' | 'month', usedBytes: number } | null
}

/** One bucket of `GET /api/devices/:id/telemetry?bucket=…`: `<metric>Min`, `<metric>Avg`, `<metric>Max` (rsrpAvg…). */
export interface TelemetryBucket { ts: string, count: number, [metric: string]: number | string }

export interface Gateway { id: string, name: string, site: string, disabled: boolean, createdAt: string, updatedAt: string }
export interface UserItem { id: string, email: string, role: string, disabled: boolean, totpEnabled: boolean }
export interface ApiKeyItem { id: string, name: string, role: string, createdAt: string, lastUsedAt: string | null, revokedAt: string | null }
export interface AuditItem { id: number, at: string, actorType: string, actorId: string | null, action: string, target: string | null, outcome: string, ip: string | null, detail?: unknown }
export interface Tenant { id: string, name: string, createdAt: string }
export interface TrustAnchor { id: string, subject: string, fingerprint: string, notAfter: string, source: string, scope: 'platform' | 'tenant', tenantId: string | null }

export interface Page<T> { items: T[], nextCursor: string | null }
export interface DeviceCredentials { clientId: string, username: string, password: string, mqttUrl: string }
export interface GatewayCreated { gateway: Gateway, credentials: DeviceCredentials }

/** A webhook (GET /api/webhooks) and one delivery of its log (GET /api/webhooks/:id/deliveries). */
export interface Webhook { id: string, url: string, events: string[], enabled: boolean, createdAt: string, updatedAt: string }
export interface WebhookDelivery { id: string, eventType: string, status: 'pending' | 'delivered' | 'failed', attempts: number, lastStatus: number | null, lastError: string | null, createdAt: string, deliveredAt: string | null }
/** The event types a webhook may take (server/webhooks/webhook-outbox.ts WEBHOOK_EVENT_TYPES). */
export const webhookEvents = ['alert.raised', 'alert.acknowledged', 'alert.resolved', 'device.online', 'device.offline', 'notification', 'command.ended'] as const satisfies readonly WebhookEventType[]
