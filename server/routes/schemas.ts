import { Type, type Static } from '@sinclair/typebox'
import type { Ajv } from 'ajv'
import { Type as RouteType } from '@fastify/type-provider-typebox'

import { userRoles, type UserRole } from '../../protocol/api-schemas.ts'

/** Response and request schemas shared by the routes; route types are derived from these. The response
 * views the dashboard reads too are defined in protocol/api-schemas.ts (the web derives its types from
 * them) and re-exported here, so that routes import every schema from this one module. */
export { ApiKey, Device, DevicePage, ErrorBody, EventTicket, FleetSummary, Page, TelemetryItem, TokenResponse, User, UserItem, type DeviceView } from '../../protocol/api-schemas.ts'

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

/** A site name: printable, up to 64 characters. */
export const SiteName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
/** `planId`: a data plan of the tenant (GET /api/plans), or null for none. */
const PlanRef = Type.Union([Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }), Type.Null()])
export const DevicePatch = Type.Partial(Type.Object({ ...deviceFields, disabled: Type.Boolean(), site: Type.Union([SiteName, Type.Null()]), planId: PlanRef }), { additionalProperties: false, minProperties: 1 })

/** Route schema part of every Bearer-authenticated route (OpenAPI security). */
export const secured = { security: [{ bearer: [] }] }
/** `t` or null (TypeBox of the Fastify type provider, which the routes build their schemas with). */
export const nullable = <T extends Parameters<typeof RouteType.Union>[0][number]>(t: T) => RouteType.Union([t, RouteType.Null()])

/** A role in a request body: the same schema as the views' `role`, built with the type provider's
 * TypeBox so that handlers read it typed. */
export const Role = RouteType.Unsafe<UserRole>(RouteType.String({ enum: [...userRoles] }))

/** A page size: 1…`max` (`0`, `-1`, `1e9`, `abc` and `Infinity` are 400), `fallback` when absent. */
export const Limit = (max: number, fallback: number) => Type.Integer({ minimum: 1, maximum: max, default: fallback })

// --- Validation of what a client sends (docs/api.md "Validation"). One definition per kind of value,
// reused by every route, so that nothing a client sends reaches Postgres as a value it refuses (NUL in
// text, a timestamp out of its range, a non-UUID for a uuid column): the answer is a coded 400 instead.

/** No C0 control, DEL or lone UTF-16 surrogate (Ajv compiles patterns with the `u` flag, so a surrogate
 * pair is one code point and passes). Postgres refuses NUL in text; the rest make no sense in a name, a
 * filter or an id. */
export const PRINTABLE_PATTERN = '^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$'

/** Free text of at most `maxLength` characters: names, filters, search strings. */
export const Text = (maxLength: number, options: { minLength?: number, description?: string } = {}) =>
  Type.String({ ...options, maxLength, pattern: PRINTABLE_PATTERN })

/** An object id looked up as given (devices, commands, trust anchors): an id that names nothing is 404. */
export const Id = Text(64, { minLength: 1 })
export const IdParams = Type.Object({ id: Id })

/** A UUID exactly as Postgres reads one (ajv-formats' `uuid` also accepts `urn:uuid:…`, which Postgres
 * refuses). For ids stored in uuid columns (users, API keys, campaigns, tenants). */
export const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' })
export const UuidParams = Type.Object({ id: Uuid })

/** An e-mail address as accounts are named: something@something, no spaces or controls. */
export const Email = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^@\\s\\u0000-\\u001f\\u007f\\ud800-\\udfff]+@[^@\\s\\u0000-\\u001f\\u007f\\ud800-\\udfff]+$' })

/** An opaque keyset cursor (base64url, as `encodeCursor` writes it); its content is checked by
 * `decodeCursor`. Any malformed cursor answers 400 `HUB_ERR_INVALID_CURSOR` (see the error handler). */
export const Cursor = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })

/** Auto-incremented row ids (audit `before`): positive and exact in a JavaScript number. */
export const RowId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })

/** Times the API accepts: years 0001–9999, which both JavaScript's `toISOString` and Postgres' timestamptz
 * read and write the same way (epoch 8640000000000000 is a valid Date, year 275760, that Postgres refuses). */
export const MIN_TIME_MS = -62_135_596_800_000 // 0001-01-01T00:00:00.000Z
export const MAX_TIME_MS = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/

/** ISO 8601 (a date, or a date and time with an optional offset) or epoch milliseconds → the Date, or
 * null when it is neither or lies outside years 0001–9999. A day that does not exist (Feb 30) is refused. */
export function parseTimestamp (value: string): Date | null {
  let ms: number
  if (/^\d{1,16}$/.test(value)) {
    ms = Number(value)
  } else {
    const match = ISO_8601.exec(value)
    if (match === null) return null
    const day = new Date(0)
    day.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]))
    if (day.getUTCMonth() !== Number(match[2]) - 1 || day.getUTCDate() !== Number(match[3])) return null
    ms = Date.parse(value)
  }
  return Number.isFinite(ms) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS ? new Date(ms) : null
}

/** A query time: ISO 8601 or epoch milliseconds, years 0001–9999 (format `timestamp`, registered by
 * `schemaPlugin`). Routes read it with `parseTimestamp`. */
export const Timestamp = Type.String({ maxLength: 40, format: 'timestamp', description: 'ISO 8601 or epoch milliseconds (years 0001–9999)' })

/** The Ajv additions the schemas above rely on, for the app's validator compiler:
 * - format `timestamp` (see `parseTimestamp`);
 * - keyword `x-finite`: Ajv coerces the query string `Infinity` to a number and then skips `minimum` and
 *   `maximum`, which it only checks on finite numbers; `finiteNumbers` puts this keyword on every number. */
export function schemaPlugin (ajv: Ajv): Ajv {
  ajv.addFormat('timestamp', { type: 'string', validate: (value: string) => parseTimestamp(value) !== null })
  // No `type: 'number'` here: Ajv would put the check behind the same `isFinite` guard as `maximum`.
  ajv.addKeyword({ keyword: 'x-finite', schemaType: 'boolean', errors: false, validate: (on: boolean, data: unknown) => !on || typeof data !== 'number' || Number.isFinite(data) })
  return ajv
}

/** Marks every `number`/`integer` inside a route's request schema `x-finite` (in place; idempotent), so
 * that no route can let `Infinity` through, whichever helper it was built with. */
export function finiteNumbers (schema: unknown): void {
  if (typeof schema !== 'object' || schema === null) return
  const node = schema as Record<string, unknown>
  if (node.type === 'number' || node.type === 'integer') node['x-finite'] = true
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) value.forEach(finiteNumbers)
    else finiteNumbers(value)
  }
}
