import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody, Limit, RowId, secured, Text } from './schemas.ts'

const AuditItem = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  tenantId: Type.Union([Type.String(), Type.Null()]),
  actorType: Type.String(),
  actorId: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
  detail: Type.Unknown(),
  ip: Type.Union([Type.String(), Type.Null()]),
  hash: Type.String()
})

/** The audit log for admins: their tenant's rows (platform admins: every row, including hub-wide ones
 * with no tenant), newest first, and the verification of the whole chain. */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { audit } = app
  app.addHook('onRequest', app.requireRole('admin'))

  app.get('/api/audit', {
    schema: {
      tags: ['audit'],
      ...secured,
      querystring: Type.Object({
        limit: Limit(500, 100),
        before: Type.Optional(RowId),
        action: Type.Optional(Text(200))
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(AuditItem), nextBefore: Type.Union([Type.Integer(), Type.Null()]) }), 400: ErrorBody }
    }
  }, async (request) => {
    const { limit, before, action } = request.query
    const rows = await audit.list({ tenantId: request.user.pa === true ? null : request.user.tid, beforeId: before, limit, action })
    return {
      items: rows.map((r) => ({ ...r, at: r.at.toISOString(), detail: parseDetail(r.detail) })),
      nextBefore: rows.length === limit ? (rows.at(-1)?.id ?? null) : null
    }
  })

  app.get('/api/audit/verify', {
    schema: {
      tags: ['audit'],
      ...secured,
      response: {
        200: Type.Object({
          ok: Type.Boolean(),
          rows: Type.Optional(Type.Integer()),
          firstBrokenId: Type.Optional(Type.Integer()),
          reason: Type.Optional(Type.String())
        })
      }
    }
  }, async () => await audit.verify())
}

/** The stored canonical JSON; a row edited into something else is shown as text (verify names it). */
function parseDetail (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
