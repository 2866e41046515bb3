// The HTTP API's response views that both sides read: the hub validates and documents its answers with
// these schemas (server/routes/schemas.ts re-exports them for the routes, the OpenAPI document is built
// from them), and the dashboard derives its types from them (`Static<typeof Device>`, type imports only,
// so no TypeBox code is bundled into web/dist). Request schemas, which only the hub checks, stay in
// server/routes/.
import { Type, type Static, type TObject } from '@sinclair/typebox'
import { TelemetrySample } from './telemetry.ts'

/** The one error answer of the API; the codes are in docs/api.md "Error codes". */
export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) })

/** A telemetry sample as the API and the SSE stream carry it: `ts` is ISO 8601. */
export const TelemetryItem = Type.Object({ ...TelemetrySample.properties, ts: Type.String({ format: 'date-time' }) })

/** A device's newest verified (or refused) eUICC notification. */
export const LastNotification = Type.Object({
  seqNumber: Type.Union([Type.Integer(), Type.Null()]),
  operation: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
  reason: Type.Union([Type.String(), Type.Null()]),
  receivedAt: Type.String({ format: 'date-time' })
})

/** How many of a device's notifications were accepted and rejected. */
export const NotificationCounts = Type.Object({ accepted: Type.Integer(), rejected: Type.Integer() })

export const DeviceStatus = Type.Union([Type.Literal('online'), Type.Literal('offline')])

/** The API's device view (`GET /api/devices`, `device.created` events). */
export const Device = Type.Object({
  id: Type.String(),
  name: Type.String(),
  eid: Type.Union([Type.String(), Type.Null()]),
  imei: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  esimAgent: Type.Union([Type.Literal('lpa'), Type.Literal('ipa')]),
  /** A disabled device may not connect (PATCH `{disabled: true}` ends its sessions). */
  disabled: Type.Boolean(),
  /** The field site the device is at (its gateway acts for it), or null. */
  site: Type.Union([Type.String(), Type.Null()]),
  status: DeviceStatus,
  lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  latestTelemetry: Type.Union([TelemetryItem, Type.Null()]),
  /** The device's newest verified (or refused) eUICC notification, and how many were accepted and rejected. */
  lastNotification: Type.Union([LastNotification, Type.Null()]),
  notificationCounts: NotificationCounts
})
export type DeviceView = Static<typeof Device>

/** One page of a keyset-paginated list: `nextCursor` is null on the last page. */
export const Page = <T extends TObject>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) })

export const DevicePage = Page(Device)

/** `GET /api/fleet/summary`. */
export const FleetSummary = Type.Object({ total: Type.Integer(), online: Type.Integer(), offline: Type.Integer() })

/** The roles of users and API keys (the database's enum is this list too). */
export const userRoles = ['admin', 'operator', 'technician', 'viewer'] as const
export type UserRole = typeof userRoles[number]
export const Role = Type.Unsafe<UserRole>(Type.String({ enum: [...userRoles] }))

/** The signed-in user, as sign-in and refresh answer it. */
export const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Role,
  tenantId: Type.String(),
  platformAdmin: Type.Boolean()
})

/** The answer of sign-in and refresh. */
export const TokenResponse = Type.Object({ accessToken: Type.String(), tokenType: Type.Literal('Bearer'), expiresIn: Type.Integer(), user: User })

/** A single-use ticket for `GET /api/events?ticket=…`. */
export const EventTicket = Type.Object({ ticket: Type.String(), expiresIn: Type.Integer() })

/** A user as the user administration lists it (`GET /api/users`). */
export const UserItem = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Role,
  tenantId: Type.String(),
  platformAdmin: Type.Boolean(),
  disabled: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' })
})

/** An API key's view; the key itself is answered once, when it is created. */
export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Role,
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})
