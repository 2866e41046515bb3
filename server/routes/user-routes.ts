import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { passwordProblem } from '../auth/password-policy.ts'
import { hashPassword, MAX_PASSWORD_LENGTH } from '../auth/passwords.ts'
import type { User as UserRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { Email, ErrorBody, Role, secured, UserItem, Uuid, UuidParams } from './schemas.ts'

const IdParams = UuidParams
const noAudit = { audit: false }

const view = (u: UserRow, totpEnabled = false) => ({
  id: u.id, email: u.email, role: u.role, tenantId: u.tenantId, platformAdmin: u.platformAdmin, disabled: u.disabled, totpEnabled, createdAt: u.createdAt.toISOString()
})

/** User management for a tenant's admins (platform admins may name another tenant). Managing users takes
 * a signed-in user, not an API key. A role change or a disable ends the user's sessions at once. */
export const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, identity, audit } = app
  app.addHook('onRequest', app.requireRole('admin'))
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.user.kind === 'api-key') throw new errors.Forbidden()
  })
  /** The tenant a request acts on: the caller's own, or for platform admins any named one. */
  const scope = (request: FastifyRequest, tenantId?: string): string | null => {
    if (request.user.pa === true) return tenantId ?? null
    if (tenantId !== undefined && tenantId !== request.user.tid) throw new errors.Forbidden()
    return request.user.tid
  }

  app.get('/api/users', {
    schema: {
      tags: ['users'],
      ...secured,
      querystring: Type.Object({ tenantId: Type.Optional(Uuid) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(UserItem) }) }
    }
  }, async (request) => {
    const tenantId = scope(request, request.query.tenantId) ?? (request.query.tenantId === undefined ? request.user.tid : null)
    const rows = await users.list(tenantId)
    return { items: rows.map((u) => view(u, u.totpEnabled)) }
  })

  app.post('/api/users', {
    config: noAudit,
    schema: {
      tags: ['users'],
      ...secured,
      body: Type.Object({
        email: Email,
        password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
        role: Role,
        tenantId: Type.Optional(Uuid)
      }, { additionalProperties: false }),
      response: { 201: UserItem, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody }
    }
  }, async (request, reply) => {
    const { email, password, role } = request.body
    const tenantId = scope(request, request.body.tenantId) ?? request.user.tid
    if (!await users.tenantExists(tenantId)) throw new errors.NotFound('Tenant')
    const problem = passwordProblem(password, email)
    if (problem !== null) throw new errors.WeakPassword(problem)
    if (await users.findByEmail(email) !== null) throw new errors.Conflict('A user with this email already exists')
    const created = await users.create({ tenantId, email, passwordHash: await hashPassword(password), role }).catch((err: { code?: string, cause?: { code?: string } }) => {
      if (err.code === '23505' || err.cause?.code === '23505') throw new errors.Conflict('A user with this email already exists')
      throw err
    })
    const row = await users.findById(created.id) as UserRow
    await audit.append({ tenantId, actorType: 'user', actorId: request.user.sub, action: 'user.create', target: row.id, outcome: 'success', detail: { email: row.email, role }, ip: request.ip })
    reply.code(201)
    return view(row)
  })

  app.patch('/api/users/:id', {
    config: noAudit,
    schema: {
      tags: ['users'],
      ...secured,
      params: IdParams,
      body: Type.Object({ role: Type.Optional(Role), disabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: UserItem, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody }
    }
  }, async (request) => {
    const tenantId = scope(request)
    const before = await users.get(tenantId, request.params.id)
    if (before === null) throw new errors.NotFound('User')
    if (before.id === request.user.sub) throw new errors.Conflict('You cannot change your own role or disable your own account')
    const revoke = () => identity.sessions.revokeUser(before.id).catch((err: unknown) => {
      request.log.error({ err }, 'session revocation failed')
      throw new errors.Unavailable()
    })
    // Sessions end before the change is stored (a revocation failure changes nothing) and again after
    // it (a session started in between is ended too).
    await revoke()
    const after = await users.update(tenantId, before.id, request.body) as UserRow
    const sessions = await revoke()
    await audit.append({
      tenantId: before.tenantId,
      actorType: 'user',
      actorId: request.user.sub,
      action: 'user.update',
      target: before.id,
      outcome: 'success',
      detail: { from: { role: before.role, disabled: before.disabled }, to: { role: after.role, disabled: after.disabled }, sessionsEnded: sessions },
      ip: request.ip
    })
    return view(after, await identity.totp.enabled(after.id))
  })
}
