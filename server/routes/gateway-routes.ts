import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../errors.ts'
import type { PublicGateway } from '../repositories/gateway-repository.ts'
import { clientCertificateRoutes } from './client-certificate-routes.ts'
import { ErrorBody, IdParams, secured, SiteName, Text } from './schemas.ts'

const Gateway = Type.Object({
  id: Type.String(),
  name: Type.String(),
  site: Type.String(),
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})
const view = (g: PublicGateway) => ({ id: g.id, name: g.name, site: g.site, disabled: g.disabled, createdAt: g.createdAt.toISOString(), updatedAt: g.updatedAt.toISOString() })

/** Site gateways of the caller's tenant (DESIGN.md "Edge bridging"; docs/broker.md "Site gateways"): a
 * gateway's credential — its secret, or a client certificate from the device CA
 * (`/api/gateways/:id/certificate`, client-certificate-routes.ts) — acts for the devices of its site
 * only. Admins and operators manage them; the secret is in the creation answer only. Changing a
 * gateway's site, disabling or deleting it ends its MQTT session. */
export const gatewayRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { gateways, bus } = app
  const writers = app.requireRole('admin', 'operator')

  app.get('/api/gateways', {
    schema: { tags: ['gateways'], ...secured, response: { 200: Type.Object({ items: Type.Array(Gateway) }) } }
  }, async (request) => ({ items: (await gateways.list(request.user.tid)).map(view) }))

  app.post('/api/gateways', {
    onRequest: writers,
    schema: {
      tags: ['gateways'],
      ...secured,
      body: Type.Object({ name: Text(200, { minLength: 1 }), site: SiteName }, { additionalProperties: false }),
      response: {
        201: Type.Object({ gateway: Gateway, credentials: Type.Object({ clientId: Type.String(), username: Type.String(), password: Type.String(), mqttUrl: Type.String() }) }),
        400: ErrorBody
      }
    }
  }, async (request, reply) => {
    const { gateway, secret } = await gateways.create(request.user.tid, request.body)
    reply.code(201)
    return { gateway: view(gateway), credentials: { clientId: gateway.id, username: gateway.id, password: secret, mqttUrl: app.mqttListeners.url } }
  })

  app.patch('/api/gateways/:id', {
    onRequest: writers,
    schema: {
      tags: ['gateways'],
      ...secured,
      params: IdParams,
      body: Type.Partial(Type.Object({ name: Text(200, { minLength: 1 }), site: SiteName, disabled: Type.Boolean() }), { additionalProperties: false, minProperties: 1 }),
      response: { 200: Gateway, 404: ErrorBody }
    }
  }, async (request) => {
    const gateway = await gateways.update(request.user.tid, request.params.id, request.body)
    if (gateway === null) throw new errors.NotFound('Gateway')
    if (request.body.site !== undefined || request.body.disabled === true) {
      bus.publish({ type: 'gateway.revoked', tenantId: request.user.tid, data: { gatewayId: gateway.id } })
    }
    return view(gateway)
  })

  app.delete('/api/gateways/:id', {
    onRequest: writers,
    schema: { tags: ['gateways'], ...secured, params: IdParams, response: { 204: Type.Null(), 404: ErrorBody } }
  }, async (request, reply) => {
    if (!await gateways.delete(request.user.tid, request.params.id)) throw new errors.NotFound('Gateway')
    bus.publish({ type: 'gateway.revoked', tenantId: request.user.tid, data: { gatewayId: request.params.id } })
    reply.code(204)
    return null
  })

  await app.register(clientCertificateRoutes, {
    resource: 'gateways',
    kind: 'gateway',
    noun: 'Gateway',
    idField: 'gatewayId',
    find: async (tenantId, id) => await gateways.get(tenantId, id)
  })
}
