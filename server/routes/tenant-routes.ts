import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.ts'
import { ErrorBody, secured, Text } from './schemas.ts'

const Tenant = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String({ format: 'date-time' }) })

/** Tenants: platform admins only. */
export const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, audit } = app
  app.addHook('onRequest', app.requirePlatformAdmin)

  app.get('/api/tenants', {
    schema: { tags: ['tenants'], ...secured, response: { 200: Type.Object({ items: Type.Array(Tenant) }) } }
  }, async () => {
    const rows = await users.listTenants()
    return { items: rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() })) }
  })

  app.post('/api/tenants', {
    config: { audit: false },
    schema: {
      tags: ['tenants'],
      ...secured,
      body: Type.Object({ name: Text(200, { minLength: 1 }) }, { additionalProperties: false }),
      response: { 201: Tenant, 409: ErrorBody }
    }
  }, async (request, reply) => {
    const tenant = await users.createTenant(request.body.name)
    if (tenant === null) throw new errors.Conflict('A tenant with this name already exists')
    await audit.append({ tenantId: tenant.id, actorType: 'user', actorId: request.user.sub, action: 'tenant.create', target: tenant.id, outcome: 'success', detail: { name: tenant.name }, ip: request.ip })
    reply.code(201)
    return { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt.toISOString() }
  })
}
