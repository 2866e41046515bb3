// Shapes of the hub's HTTP API and SSE stream as the dashboard uses them, derived from the schemas the
// hub validates its answers with (protocol/api-schemas.ts) and from the protocol's events: never written
// twice. Type imports only, so that nothing of TypeBox is bundled.
import type { Static } from '@sinclair/typebox'
import type * as api from '../../../protocol/api-schemas.ts'
import type { HubEvent as ProtocolEvent, HubEventType as ProtocolEventType } from '../../../protocol/events.ts'

export type Role = api.UserRole
export type User = Static<typeof api.User>
export type LoginResponse = Static<typeof api.TokenResponse>
export type DeviceStatus = Static<typeof api.DeviceStatus>
/** A telemetry sample as the API and the SSE stream carry it: `ts` is ISO 8601. */
export type Telemetry = Static<typeof api.TelemetryItem>
export type Device = Static<typeof api.Device>
/** A device's newest verified (or refused) eUICC notification. */
export type LastNotification = Static<typeof api.LastNotification>
export type NotificationCounts = Static<typeof api.NotificationCounts>
export type DevicePage = Static<typeof api.DevicePage>
export type FleetSummary = Static<typeof api.FleetSummary>
export type EventTicket = Static<typeof api.EventTicket>
export type UserItem = Static<typeof api.UserItem>
export type ApiKey = Static<typeof api.ApiKey>
export type ErrorBody = Static<typeof api.ErrorBody>

/** The SSE stream's event names: the hub's events (protocol/events.ts) plus `resync`. */
export type HubEventType = ProtocolEventType | 'resync'

/** The data of each SSE event, by its `event:` name: the protocol's, with the device view in
 * `device.created` (the protocol leaves it `unknown`), and `resync`, which carries nothing. */
export type HubEventMap = {
  [K in Exclude<ProtocolEventType, 'device.created'>]: Extract<ProtocolEvent, { type: K }>['data']
} & {
  'device.created': { device: Device }
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
  'gateway.revoked': true,
  notification: true,
  'profile.changed': true,
  'command.updated': true,
  'campaign.updated': true,
  'alert.raised': true,
  'alert.acknowledged': true,
  'alert.resolved': true,
  resync: true
}
export const hubEventTypes = Object.keys(eventTypes) as readonly HubEventType[]
