import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.ts'
import { Cursor, ErrorBody, IdParams, Limit, parseTimestamp, TelemetryItem, Text, Timestamp } from './schemas.ts'

const BUCKETS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }
const DEFAULT_BUCKET_WINDOW_MS = 24 * 3600_000

/** `from`/`to` are ISO 8601 or epoch milliseconds (already checked by the `Timestamp` schema). */
function parseTime (value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined
  const date = parseTimestamp(value)
  if (date === null) throw new errors.BadRequest(`${name} must be an ISO 8601 time or epoch milliseconds, years 0001–9999`)
  return date
}

/** `1m`, `15m`, `1h`, `1d`… → seconds. */
function parseBucket (value: string): number {
  const match = /^(\d{1,4})([smhd])$/.exec(value)
  const seconds = match === null ? 0 : Number(match[1]) * BUCKETS[match[2]]
  if (seconds < 1) throw new errors.BadRequest('bucket must look like 30s, 1m, 1h or 1d')
  return seconds
}

export const telemetryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, telemetry } = app

  app.get('/api/devices/:id/telemetry', {
    schema: {
      tags: ['telemetry'],
      security: [{ bearer: [] }],
      params: IdParams,
      querystring: Type.Object({
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp),
        limit: Limit(10_000, 1000),
        cursor: Type.Optional(Cursor),
        bucket: Type.Optional(Text(8))
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          items: Type.Array(Type.Union([TelemetryItem, Type.Object({ ts: Type.String(), count: Type.Integer() }, { additionalProperties: Type.Number() })])),
          nextCursor: Type.Union([Type.String(), Type.Null()])
        }),
        400: ErrorBody,
        404: ErrorBody
      }
    }
  }, async (request) => {
    const { id } = request.params
    if (await devices.get(request.user.tid, id) === null) throw new errors.NotFound('Device')
    const from = parseTime(request.query.from, 'from')
    const to = parseTime(request.query.to, 'to')
    if (request.query.bucket !== undefined) {
      const end = to ?? new Date()
      const start = from ?? new Date(end.getTime() - DEFAULT_BUCKET_WINDOW_MS)
      const items = await telemetry.buckets(id, parseBucket(request.query.bucket), start, end, request.query.limit)
      return { items, nextCursor: null }
    }
    return await telemetry.range(id, { from, to, limit: request.query.limit, cursor: request.query.cursor })
  })
}
