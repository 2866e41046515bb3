import type { TelemetrySample } from './telemetry.ts'

/** Events fanned out after a commit (bus → SSE). `tenantId` scopes who may see each one. */
export type HubEvent =
  | { type: 'device.online', tenantId: string, data: { deviceId: string, at: string } }
  | { type: 'device.offline', tenantId: string, data: { deviceId: string, at: string } }
  | { type: 'device.created', tenantId: string, data: { device: unknown } }
  | { type: 'device.deleted', tenantId: string, data: { deviceId: string } }
  | { type: 'telemetry', tenantId: string, data: TelemetryEventData }

export type TelemetryEventData = Omit<TelemetrySample, 'ts'> & { deviceId: string, ts: string }

export type HubEventType = HubEvent['type']
