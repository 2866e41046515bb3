import fp from 'fastify-plugin'

/** What helmet would send, but only where it means something. */
export const HSTS_VALUE = 'max-age=31536000; includeSubDomains'

/** HSTS only on requests that came over TLS: on the HTTPS listener, or through a trusted proxy
 * (`HUB_TRUST_PROXY`) that says `X-Forwarded-Proto: https`. Over plain HTTP the header is ignored by
 * browsers at best and, behind no TLS at all, would lock users out of a hub that has no HTTPS. */
export const transportSecurity = fp(async (app) => {
  app.addHook('onRequest', async (request, reply) => {
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS_VALUE)
  })
}, { name: 'transport-security' })
