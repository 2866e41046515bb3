import fastifyJwt from '@fastify/jwt'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { UserRole } from '../db/schema/index.ts'
import { errors } from '../errors.ts'

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60
const AUDIENCE = 'euicc-hub'

/** The claims of an access token: `typ` keeps refresh or other tokens from being used as one. */
export interface AccessClaims { sub: string, tid: string, role: UserRole, typ: 'access' }

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: AccessClaims, user: AccessClaims }
}
declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest) => Promise<void>
    requireRole: (...roles: UserRole[]) => (request: FastifyRequest) => Promise<void>
  }
}

/** Access JWTs: HS256 only (the algorithm is pinned on both sides), 15 minutes, audience checked. */
export const accessTokenPlugin = fp(async (app, opts: { secret: string }) => {
  await app.register(fastifyJwt, {
    secret: opts.secret,
    sign: { algorithm: 'HS256', expiresIn: ACCESS_TOKEN_TTL_SECONDS, aud: AUDIENCE },
    verify: { algorithms: ['HS256'], allowedAud: AUDIENCE }
  })
  app.decorate('authenticate', async (request: FastifyRequest) => {
    try {
      await request.jwtVerify()
    } catch {
      throw new errors.Unauthorized()
    }
    if (request.user.typ !== 'access') throw new errors.Unauthorized()
  })
  app.decorate('requireRole', (...roles: UserRole[]) => async (request: FastifyRequest) => {
    if (!roles.includes(request.user.role)) throw new errors.Forbidden()
  })
}, { name: 'access-token' })
