import type { TelemetrySample } from './telemetry.ts'

/** Events fanned out after a commit (bus → SSE). `tenantId` scopes who may see each one. */
export type HubEvent =
  | { type: 'device.online', tenantId: string, data: { deviceId: string, at: string } }
  | { type: 'device.offline', tenantId: string, data: { deviceId: string, at: string } }
  | { type: 'device.created', tenantId: string, data: { device: unknown } }
  | { type: 'device.deleted', tenantId: string, data: { deviceId: string } }
  /** The device's credentials changed (disabled, secret rotated, certificate revoked): every hub process
   * ends its open MQTT sessions. Deletion (`device.deleted`) does the same. */
  | { type: 'device.credentials-revoked', tenantId: string, data: { deviceId: string, reason: 'disabled' | 'secret-rotated' | 'certificate-revoked' } }
  /** A gateway was deleted, disabled or moved to another site: every hub process ends its session. */
  | { type: 'gateway.revoked', tenantId: string, data: { gatewayId: string } }
  | { type: 'telemetry', tenantId: string, data: TelemetryEventData }
  | { type: 'notification', tenantId: string, data: NotificationEventData }
  | { type: 'profile.changed', tenantId: string, data: ProfileEventData }
  | { type: 'command.updated', tenantId: string, data: CommandEventData }
  | { type: 'campaign.updated', tenantId: string, data: CampaignEventData }
  /** An alert's life (docs/alerts.md): raised once per (rule, device) while its condition holds,
   * acknowledged by a user, resolved when the condition clears. */
  | { type: 'alert.raised', tenantId: string, data: AlertEventData }
  | { type: 'alert.acknowledged', tenantId: string, data: AlertEventData }
  | { type: 'alert.resolved', tenantId: string, data: AlertEventData }

export type TelemetryEventData = Omit<TelemetrySample, 'ts'> & { deviceId: string, ts: string }

export type HubEventType = HubEvent['type']

export interface NotificationEventData {
  id: number | null
  deviceId: string | null
  eid: string | null
  seqNumber: number | null
  operation: string | null
  status: 'accepted' | 'duplicate' | 'rejected'
  reason: string | null
}

export interface ProfileEventData {
  deviceId: string | null
  eid: string
  iccid: string
  state: 'enabled' | 'disabled' | 'deleted'
  cause: string
  seqNumber: number | null
  reportedState: 'enabled' | 'disabled' | 'absent' | null
  conflict: string | null
  operatorId: string | null
}

/** A command's state after a change (the API's command view). */
export interface CommandEventData {
  id: string
  deviceId: string
  op: string
  iccid: string | null
  status: 'queued' | 'sent' | 'succeeded' | 'failed' | 'expired' | 'cancelled'
  requestedBy: string
  campaignId: string | null
  createdAt: string
  expiresAt: string
  sentAt: string | null
  finishedAt: string | null
  error: { code: string, message: string } | null
}

/** A campaign's state and progress counts after a change. */
export interface CampaignEventData {
  id: string
  name: string
  op: string
  status: 'running' | 'paused' | 'completed' | 'cancelled'
  pausedReason: string | null
  total: number
  progress: Record<'pending' | 'queued' | 'sent' | 'succeeded' | 'failed' | 'expired' | 'cancelled', number>
}

/** An alert after a change (the API's alert view). */
export interface AlertEventData {
  id: string
  ruleId: string
  ruleName: string
  kind: 'offline' | 'metric' | 'notification-rejected' | 'command-failed' | 'data-usage'
  severity: 'info' | 'warning' | 'critical'
  deviceId: string
  state: 'open' | 'acknowledged' | 'resolved'
  value: number | null
  message: string
  raisedAt: string
  acknowledgedAt: string | null
  acknowledgedBy: string | null
  resolvedAt: string | null
  resolution: string | null
}
