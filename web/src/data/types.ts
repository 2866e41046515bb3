// Shapes of the hub's HTTP API and SSE stream as the dashboard uses them.
import type { CampaignEventData, CommandEventData, HubEventType as ProtocolEventType, NotificationEventData, ProfileEventData, TelemetryEventData } from '../../../protocol/events.ts'

export type Role = 'admin' | 'operator' | 'technician' | 'viewer' | (string & {})

export interface User {
  id: string
  email: string
  role: Role
}

export interface LoginResponse {
  accessToken: string
  tokenType: 'Bearer'
  expiresIn: number
  user: User
}

export type DeviceStatus = 'online' | 'offline'

/** A telemetry sample as the API and the SSE stream carry it: `ts` is ISO 8601. */
export type Telemetry = Omit<TelemetryEventData, 'deviceId'>

export interface Device {
  id: string
  name: string
  eid: string | null
  imei: string | null
  tags: string[]
  status: DeviceStatus
  lastSeenAt: string | null
  createdAt: string
  latestTelemetry: Telemetry | null
  lastNotification: LastNotification | null
  notificationCounts: NotificationCounts
}

/** A device's newest verified (or refused) eUICC notification. */
export interface LastNotification {
  seqNumber: number | null
  operation: string | null
  status: 'accepted' | 'rejected'
  reason: string | null
  receivedAt: string
}

export interface NotificationCounts {
  accepted: number
  rejected: number
}

export interface DevicePage {
  items: Device[]
  nextCursor: string | null
}

export interface FleetSummary {
  total: number
  online: number
  offline: number
}

export interface EventTicket {
  ticket: string
  expiresIn: number
}

/** The SSE stream's event names: the hub's events (protocol/events.ts) plus `resync`. */
export type HubEventType = ProtocolEventType | 'resync'

/** The data of each SSE event, by its `event:` name. */
export interface HubEventMap {
  'device.online': { deviceId: string, at: string }
  'device.offline': { deviceId: string, at: string }
  telemetry: TelemetryEventData
  'device.created': { device: Device }
  'device.deleted': { deviceId: string }
  'device.credentials-revoked': { deviceId: string, reason: string }
  notification: NotificationEventData
  'profile.changed': ProfileEventData
  'command.updated': CommandEventData
  'campaign.updated': CampaignEventData
  resync: Record<string, never>
}

export type HubEvent = {
  [K in HubEventType]: { type: K, id: string, data: HubEventMap[K] }
}[HubEventType]

// a Record, so that an event type added to the protocol must be added here too
const eventTypes: Record<HubEventType, true> = {
  'device.online': true,
  'device.offline': true,
  telemetry: true,
  'device.created': true,
  'device.deleted': true,
  'device.credentials-revoked': true,
  notification: true,
  'profile.changed': true,
  'command.updated': true,
  'campaign.updated': true,
  resync: true
}
export const hubEventTypes = Object.keys(eventTypes) as readonly HubEventType[]
