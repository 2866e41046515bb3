import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ACCESS_TOKEN_TTL_SECONDS } from '../auth/access-token.ts'
import { MAX_PASSWORD_LENGTH, verifyPassword } from '../auth/passwords.ts'
import { isSameOrigin } from '../auth/same-origin.ts'
import { REFRESH_TOKEN_TTL_SECONDS } from '../auth/session-store.ts'
import type { User as UserRow } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import { toPublicUser } from '../repositories/user-repository.ts'
import { ErrorBody, Text, TokenResponse, User } from './schemas.ts'

export const REFRESH_COOKIE = 'hub_refresh'
const COOKIE_PATH = '/api/auth'

const noAudit = { audit: false }

/** Sign-in, refresh, sign-out and TOTP enrolment. Unknown accounts, disabled accounts and wrong passwords
 * get the same answer after the same work (one argon2 verification); limits are counted per submitted
 * email and address whether the account exists or not. */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, identity, audit } = app
  const { guard, sessions, totp } = identity

  /** The counter store (Redis) being down must never mean "unlimited": fail closed with a 503. */
  const closed = async <T>(work: Promise<T>, request: FastifyRequest): Promise<T> => {
    try {
      return await work
    } catch (err) {
      request.log.error({ err }, 'login limiter unavailable; refusing sign-in')
      throw new errors.Unavailable()
    }
  }

  const issue = async (reply: FastifyReply, request: FastifyRequest, user: UserRow, familyId: string, refreshToken: string) => {
    reply.setCookie(REFRESH_COOKIE, refreshToken, {
      path: COOKIE_PATH,
      httpOnly: true,
      secure: request.protocol === 'https',
      sameSite: 'strict',
      maxAge: REFRESH_TOKEN_TTL_SECONDS
    })
    reply.header('cache-control', 'no-store')
    const accessToken = app.jwt.sign({ sub: user.id, tid: user.tenantId, role: user.role, typ: 'access', sid: familyId, pa: user.platformAdmin, kind: 'user' })
    return { accessToken, tokenType: 'Bearer' as const, expiresIn: ACCESS_TOKEN_TTL_SECONDS, user: toPublicUser(user) }
  }

  app.post('/api/auth/login', {
    config: noAudit,
    schema: {
      tags: ['auth'],
      body: Type.Object({
        email: Text(320, { minLength: 3 }),
        password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
        totp: Type.Optional(Text(16))
      }, { additionalProperties: false }),
      response: { 200: TokenResponse, 401: ErrorBody, 429: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const { email, password } = request.body
    const ip = request.ip
    const record = (outcome: 'success' | 'failure' | 'denied', user: UserRow | null, reason?: string) =>
      audit.append({ tenantId: user?.tenantId ?? null, actorType: 'user', actorId: user?.id ?? null, action: 'auth.login', target: email.toLowerCase(), outcome, detail: reason === undefined ? {} : { reason }, ip })
        .catch((err: Error) => request.log.error({ err }, 'audit append failed'))

    const gate = await closed(guard.admit(email, ip), request)
    if (!gate.allowed) {
      await record('denied', null, 'rate-limited')
      reply.header('retry-after', String(gate.retryAfterSeconds))
      throw new errors.TooManyAttempts()
    }
    const user = await users.findByEmail(email)
    const ok = await verifyPassword(user?.passwordHash ?? null, password)
    // The attempt was reserved by admit() and already counts as a failure unless given back below.
    if (user === null || !ok || user.disabled) {
      await record('failure', user, user === null ? 'unknown account' : user.disabled && ok ? 'disabled' : 'wrong password')
      throw new errors.InvalidCredentials()
    }
    if (await totp.enabled(user.id)) {
      const code = request.body.totp
      if (code === undefined || code === '') {
        await closed(guard.release(email, ip), request)
        throw new errors.TotpRequired()
      }
      if (!await closed(guard.totpAllowed(email), request)) {
        await record('denied', user, 'totp rate-limited')
        reply.header('retry-after', '900')
        throw new errors.TooManyAttempts()
      }
      const check = await totp.check(user.id, code.trim())
      if (check !== 'ok') {
        await record('failure', user, check === 'reused' ? 'totp code reused' : 'wrong totp code')
        throw new errors.InvalidTotp()
      }
      await closed(guard.totpSucceeded(email), request)
    }
    await closed(guard.succeeded(email, ip), request)
    const session = await sessions.start(user.id)
    await record('success', user)
    return await issue(reply, request, user, session.familyId, session.token)
  })

  app.post('/api/auth/refresh', {
    config: noAudit,
    schema: { tags: ['auth'], response: { 200: TokenResponse, 401: ErrorBody, 403: ErrorBody } }
  }, async (request, reply) => {
    if (!isSameOrigin(request)) throw new errors.CrossOrigin()
    const presented = request.cookies[REFRESH_COOKIE]
    if (presented === undefined || presented === '') throw new errors.InvalidRefreshToken()
    const result = await sessions.rotate(presented).catch((err: unknown) => {
      request.log.error({ err }, 'session revocation failed')
      throw new errors.Unavailable()
    })
    if (result.kind === 'reused') {
      const user = await users.findById(result.userId)
      await audit.append({ tenantId: user?.tenantId ?? null, actorType: 'user', actorId: result.userId, action: 'auth.refresh.reuse', target: result.familyId, outcome: 'denied', detail: { revoked: 'session' }, ip: request.ip })
      reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH })
      throw new errors.InvalidRefreshToken()
    }
    if (result.kind === 'invalid') {
      reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH })
      throw new errors.InvalidRefreshToken()
    }
    const user = await users.findById(result.userId)
    if (user === null || user.disabled) {
      await sessions.revokeFamilies([result.familyId])
      throw new errors.InvalidRefreshToken()
    }
    return await issue(reply, request, user, result.familyId, result.token)
  })

  app.post('/api/auth/logout', {
    config: noAudit,
    schema: { tags: ['auth'], response: { 204: Type.Null(), 403: ErrorBody } }
  }, async (request, reply) => {
    if (!isSameOrigin(request)) throw new errors.CrossOrigin()
    const families = new Set<string>()
    let actor: { id: string, tenantId: string | null } | null = null
    const presented = request.cookies[REFRESH_COOKIE]
    if (presented !== undefined && presented !== '') {
      const family = await sessions.familyOf(presented)
      if (family !== null) {
        families.add(family.familyId)
        actor = { id: family.userId, tenantId: null }
      }
    }
    if (request.headers.authorization !== undefined) {
      await app.authenticate(request)
      if (request.user.kind !== 'api-key') {
        families.add(request.user.sid)
        actor = { id: request.user.sub, tenantId: request.user.tid }
      }
    }
    try {
      await sessions.revokeFamilies([...families])
    } catch (err) {
      request.log.error({ err }, 'session revocation failed')
      throw new errors.Unavailable()
    }
    reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH })
    if (actor !== null) {
      await audit.append({ tenantId: actor.tenantId, actorType: 'user', actorId: actor.id, action: 'auth.logout', outcome: 'success', detail: { sessions: families.size }, ip: request.ip })
    }
    reply.code(204)
    return null
  })

  app.get('/api/auth/me', {
    schema: {
      tags: ['auth'],
      security: [{ bearer: [] }],
      response: { 200: Type.Intersect([User, Type.Object({ totpEnabled: Type.Boolean() })]), 401: ErrorBody }
    }
  }, async (request) => {
    if (request.user.kind === 'api-key') throw new errors.Forbidden()
    const user = await users.findById(request.user.sub)
    if (user === null || user.disabled) throw new errors.Unauthorized()
    return { ...toPublicUser(user), totpEnabled: await totp.enabled(user.id) }
  })

  app.post('/api/auth/totp/enroll', {
    config: noAudit,
    schema: {
      tags: ['auth'],
      security: [{ bearer: [] }],
      response: { 200: Type.Object({ secret: Type.String(), otpauthUrl: Type.String(), qrCode: Type.String() }), 409: ErrorBody }
    }
  }, async (request) => {
    if (request.user.kind === 'api-key') throw new errors.Forbidden()
    const user = await users.findById(request.user.sub)
    if (user === null) throw new errors.Unauthorized()
    const enrolment = await totp.enroll(user.id, user.email).catch((err: { code?: string }) => {
      if (err.code === 'enabled') throw new errors.Conflict('TOTP is already enabled for this account')
      throw err
    })
    await audit.append({ tenantId: user.tenantId, actorType: 'user', actorId: user.id, action: 'auth.totp.enroll', outcome: 'success', ip: request.ip })
    return enrolment
  })

  app.post('/api/auth/totp/confirm', {
    config: noAudit,
    schema: {
      tags: ['auth'],
      security: [{ bearer: [] }],
      body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }), 401: ErrorBody }
    }
  }, async (request) => {
    if (request.user.kind === 'api-key') throw new errors.Forbidden()
    const codes = await totp.confirm(request.user.sub, request.body.code)
    await audit.append({ tenantId: request.user.tid, actorType: 'user', actorId: request.user.sub, action: 'auth.totp.confirm', outcome: codes === null ? 'failure' : 'success', ip: request.ip })
    if (codes === null) throw new errors.InvalidTotp()
    return { recoveryCodes: codes }
  })
}
