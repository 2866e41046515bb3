import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { clientCertificateRoutes } from './client-certificate-routes.ts'
import { secured } from './schemas.ts'

/** The device CA and device client certificates (`/api/devices/:id/certificate`, client-certificate-routes.ts),
 * scoped to the caller's tenant (another tenant's device answers 404). */
export const deviceCertificateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, deviceCertificates: certificates } = app

  app.get('/api/device-ca', {
    schema: { tags: ['devices'], ...secured, produces: ['application/x-pem-file'], response: { 200: Type.String({ description: 'PEM' }) } }
  }, async (_request, reply) => {
    reply.type('application/x-pem-file')
    return certificates.ca.certificatePem
  })

  await app.register(clientCertificateRoutes, {
    resource: 'devices',
    kind: 'device',
    noun: 'Device',
    idField: 'deviceId',
    find: async (tenantId, id) => await devices.get(tenantId, id)
  })
}
