import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/** The OpenAPI document (from the route schemas) and its page at /docs. */
export const swaggerPlugin = fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      info: { title: 'euicc-hub API', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  // The docs page's own inline scripts need a relaxed CSP on /docs only.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
}, { name: 'swagger' })
