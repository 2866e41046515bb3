import fastifyJwt from '@fastify/jwt'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { UserRole } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import type { ApiKeyStore } from './api-key-store.ts'
import type { RevocationList } from './revocation-list.ts'

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60
const AUDIENCE = 'euicc-hub'

/** The claims of an access token: `typ` keeps refresh or other tokens from being used as one; `sid` is
 * the session (refresh-token family) it was issued in, checked against the revocation list on every
 * request; `pa` marks a platform admin. API keys produce the same shape with `kind: 'api-key'`. */
export interface AccessClaims {
  sub: string
  tid: string
  role: UserRole
  typ: 'access'
  sid: string
  pa?: boolean
  kind?: 'user' | 'api-key'
}

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: AccessClaims, user: AccessClaims }
}
declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>
    requireRole: (...roles: UserRole[]) => (request: FastifyRequest) => Promise<void>
    requirePlatformAdmin: (request: FastifyRequest) => Promise<void>
  }
}

export interface AccessTokenOptions {
  secret: string
  revocations: RevocationList
  apiKeys: ApiKeyStore
}

/** Access JWTs: HS256 only (the algorithm is pinned on both sides), 15 minutes, audience checked, and
 * refused at once when their session is revoked. `Bearer hubk_…` is an API key instead. */
export const accessTokenPlugin = fp(async (app, opts: AccessTokenOptions) => {
  await app.register(fastifyJwt, {
    secret: opts.secret,
    sign: { algorithm: 'HS256', expiresIn: ACCESS_TOKEN_TTL_SECONDS, aud: AUDIENCE },
    verify: { algorithms: ['HS256'], allowedAud: AUDIENCE }
  })
  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header?.startsWith('Bearer hubk_') === true) {
      const key = await opts.apiKeys.authenticate(header.slice('Bearer '.length))
      if (key === null) throw new errors.Unauthorized()
      request.user = { sub: key.id, tid: key.tenantId, role: key.role, typ: 'access', sid: key.id, kind: 'api-key' }
      return
    }
    try {
      await request.jwtVerify()
    } catch {
      throw new errors.Unauthorized()
    }
    const claims = request.user
    if (claims.typ !== 'access' || typeof claims.sid !== 'string' || claims.kind === 'api-key') throw new errors.Unauthorized()
    let revoked: boolean
    try {
      revoked = await opts.revocations.anyRevoked([claims.sid])
    } catch (err) {
      // Fail closed: when the revocation list cannot be read, no token is trusted.
      request.log.error({ err }, 'revocation list unavailable')
      throw new errors.Unavailable()
    }
    if (revoked) throw new errors.Unauthorized()
  })
  app.decorate('requireRole', (...roles: UserRole[]) => async (request: FastifyRequest) => {
    if (!roles.includes(request.user.role)) throw new errors.Forbidden()
  })
  app.decorate('requirePlatformAdmin', async (request: FastifyRequest) => {
    if (request.user.pa !== true) throw new errors.Forbidden()
  })
}, { name: 'access-token' })
