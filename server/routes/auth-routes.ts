import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ACCESS_TOKEN_TTL_SECONDS } from '../auth/access-token.ts'
import { MAX_PASSWORD_LENGTH, verifyPassword } from '../auth/passwords.ts'
import { errors } from '../errors.ts'
import { toPublicUser, type UserRepository } from '../repositories/user-repository.ts'
import { ErrorBody, User } from './schemas.ts'

/** Sign-in. Unknown accounts, disabled accounts and wrong passwords get the same answer after the same
 * work (one argon2 verification). */
export const authRoutes: FastifyPluginAsyncTypebox<{ users: UserRepository }> = async (app, { users }) => {
  app.post('/api/auth/login', {
    schema: {
      tags: ['auth'],
      body: Type.Object({
        email: Type.String({ minLength: 3, maxLength: 320 }),
        password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
        totp: Type.Optional(Type.String({ maxLength: 10 }))
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({ accessToken: Type.String(), tokenType: Type.Literal('Bearer'), expiresIn: Type.Integer(), user: User }),
        401: ErrorBody
      }
    }
  }, async (request) => {
    const user = await users.findByEmail(request.body.email)
    const ok = await verifyPassword(user?.passwordHash ?? null, request.body.password)
    if (user === null || !ok || user.disabled) throw new errors.InvalidCredentials()
    const accessToken = app.jwt.sign({ sub: user.id, tid: user.tenantId, role: user.role, typ: 'access' })
    return { accessToken, tokenType: 'Bearer' as const, expiresIn: ACCESS_TOKEN_TTL_SECONDS, user: toPublicUser(user) }
  })

  app.get('/api/auth/me', {
    onRequest: app.authenticate,
    schema: { tags: ['auth'], security: [{ bearer: [] }], response: { 200: User, 401: ErrorBody } }
  }, async (request) => {
    const user = await users.findById(request.user.sub)
    if (user === null || user.disabled) throw new errors.Unauthorized()
    return toPublicUser(user)
  })
}
