import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { PublicApiKey } from '../auth/api-key-store.ts'
import { errors } from '../errors.ts'
import { ApiKey, ErrorBody, Role, secured, Text, UuidParams } from './schemas.ts'

const view = (k: PublicApiKey) => ({
  id: k.id, name: k.name, role: k.role, createdAt: k.createdAt.toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null, revokedAt: k.revokedAt?.toISOString() ?? null
})

/** API keys of the caller's tenant: admins (signed in, not with a key) create, list and revoke them. The
 * key is in the creation answer only. */
export const apiKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { audit } = app
  const { apiKeys } = app.identity
  app.addHook('onRequest', app.requireRole('admin'))
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.user.kind === 'api-key') throw new errors.Forbidden()
  })

  app.get('/api/api-keys', {
    schema: { tags: ['api-keys'], ...secured, response: { 200: Type.Object({ items: Type.Array(ApiKey) }) } }
  }, async (request) => ({ items: (await apiKeys.list(request.user.tid)).map(view) }))

  app.post('/api/api-keys', {
    config: { audit: false },
    schema: {
      tags: ['api-keys'],
      ...secured,
      body: Type.Object({
        name: Text(100, { minLength: 1 }),
        role: Role
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ apiKey: ApiKey, key: Type.String() }) }
    }
  }, async (request, reply) => {
    const { key, secret } = await apiKeys.create({ tenantId: request.user.tid, name: request.body.name, role: request.body.role, createdBy: request.user.sub })
    await audit.append({ tenantId: request.user.tid, actorType: 'user', actorId: request.user.sub, action: 'api-key.create', target: key.id, outcome: 'success', detail: { name: key.name, role: key.role }, ip: request.ip })
    reply.code(201).header('cache-control', 'no-store')
    return { apiKey: view(key), key: secret }
  })

  app.delete('/api/api-keys/:id', {
    config: { audit: false },
    schema: { tags: ['api-keys'], ...secured, params: UuidParams, response: { 204: Type.Null(), 404: ErrorBody } }
  }, async (request, reply) => {
    if (!await apiKeys.revoke(request.user.tid, request.params.id)) throw new errors.NotFound('API key')
    await audit.append({ tenantId: request.user.tid, actorType: 'user', actorId: request.user.sub, action: 'api-key.revoke', target: request.params.id, outcome: 'success', ip: request.ip })
    reply.code(204)
    return null
  })
}
