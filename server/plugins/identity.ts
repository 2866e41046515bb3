import { randomBytes, randomUUID } from 'node:crypto'
import cookie from '@fastify/cookie'
import fp from 'fastify-plugin'
import { accessTokenPlugin } from '../auth/access-token.ts'
import { bootstrapAdmin, type BootstrapResult } from '../auth/admin-bootstrap.ts'
import { createIdentity, type Identity } from '../auth/identity.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Sessions, revocations, login limits, TOTP and API keys (auth/identity.ts). */
    identity: Identity
    /** This deployment's id (kept in the database): namespaces what it keeps in a shared Redis. */
    installationId: string
    /** The first admin account: created on this start (with its password when generated), or null. */
    bootstrap: BootstrapResult
  }
}

/** Who a request is: the first admin account, identity's stores, the refresh cookie and the access
 * tokens (`app.authenticate`, `app.requireRole`, `app.requirePlatformAdmin`, auth/access-token.ts). */
export const identityPlugin = fp(async (app) => {
  const { users, config } = app
  app.decorate('bootstrap', await bootstrapAdmin(users, config.adminEmail, config.adminPassword))
  const installationId = await users.setting('installation-id', () => randomUUID())
  app.decorate('installationId', installationId)
  const identity = createIdentity(app.database, app.redis, installationId)
  app.decorate('identity', identity)
  const secret = config.jwtSecret ?? await users.setting('jwt-secret', () => randomBytes(48).toString('base64url'))
  await app.register(cookie)
  await app.register(accessTokenPlugin, { secret, revocations: identity.revocations, apiKeys: identity.apiKeys })
}, { name: 'identity', dependencies: ['config', 'database', 'redis', 'repositories'] })
