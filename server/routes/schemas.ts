import { Type, type Static } from '@sinclair/typebox'
import { Type as RouteType } from '@fastify/type-provider-typebox'
import { TelemetrySample } from '../../protocol/telemetry.ts'
import { userRoles, type UserRole } from '../db/schema/index.ts'

/** Response and request schemas shared by the routes; route types are derived from these. */
export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) })

const telemetryItemProperties = { ...TelemetrySample.properties, ts: Type.String({ format: 'date-time' }) }
export const TelemetryItem = Type.Object(telemetryItemProperties)

export const Device = Type.Object({
  id: Type.String(),
  name: Type.String(),
  eid: Type.Union([Type.String(), Type.Null()]),
  imei: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  esimAgent: Type.Union([Type.Literal('lpa'), Type.Literal('ipa')]),
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  latestTelemetry: Type.Union([TelemetryItem, Type.Null()]),
  /** The device's newest verified (or refused) eUICC notification, and how many were accepted and rejected. */
  lastNotification: Type.Union([Type.Object({
    seqNumber: Type.Union([Type.Integer(), Type.Null()]),
    operation: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
    reason: Type.Union([Type.String(), Type.Null()]),
    receivedAt: Type.String({ format: 'date-time' })
  }), Type.Null()]),
  notificationCounts: Type.Object({ accepted: Type.Integer(), rejected: Type.Integer() })
})
export type DeviceView = Static<typeof Device>

const tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
const deviceFields = {
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
  eid: Type.Optional(Type.String({ pattern: '^[0-9]{32}$' })),
  imei: Type.Optional(Type.String({ pattern: '^[0-9]{15}$' })),
  tags: Type.Optional(Type.Array(tag, { maxItems: 32 })),
  esimAgent: Type.Optional(Type.Union([Type.Literal('lpa'), Type.Literal('ipa')]))
}
const certificate = Type.String({ minLength: 100, maxLength: 20_000 })
export const DeviceCreate = Type.Object({
  ...deviceFields,
  /** The eUICC certificate (PEM or base64 DER), and its EUM's: installation results can then be verified
   * before any other notification of the device arrives. */
  euiccCertificate: Type.Optional(certificate),
  eumCertificate: Type.Optional(certificate)
}, { additionalProperties: false })
export type DeviceCreateBody = Static<typeof DeviceCreate>

export const DevicePatch = Type.Partial(Type.Object(deviceFields), { additionalProperties: false, minProperties: 1 })

export const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Type.Unsafe<UserRole>(Type.String({ enum: [...userRoles] })),
  tenantId: Type.String(),
  platformAdmin: Type.Boolean()
})

export const Page = <T extends ReturnType<typeof Type.Object>>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) })

/** Route schema part of every Bearer-authenticated route (OpenAPI security). */
export const secured = { security: [{ bearer: [] }] }
/** `t` or null (TypeBox of the Fastify type provider, which the routes build their schemas with). */
export const nullable = <T extends Parameters<typeof RouteType.Union>[0][number]>(t: T) => RouteType.Union([t, RouteType.Null()])

export const Limit = (max: number, fallback: number) => Type.Integer({ minimum: 1, maximum: max, default: fallback })
