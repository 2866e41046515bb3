import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../errors.ts'
import { finiteNumbers } from '../routes/schemas.ts'

/** One answer shape for every error, `{ error: { code, message } }`: validation failures are a coded 400
 * (a malformed cursor its own code), 4xx carry their message, 5xx a generic body (the detail goes to the
 * log). Unknown routes answer a coded 404. Every number a route reads must be finite (schemas.ts). */
export const errorHandlerPlugin = fp(async (app) => {
  // New routes get the finite-number rule too.
  app.addHook('onRoute', (route) => {
    for (const part of [route.schema?.querystring, route.schema?.params, route.schema?.body]) finiteNumbers(part)
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500
    if (err.validation !== undefined) {
      // A malformed cursor has its own code, whichever list it was given to.
      const cursor = err.validationContext === 'querystring' && err.validation.some((v) => v.instancePath === '/cursor')
      const error = cursor ? new errors.InvalidCursor() : new errors.Validation(err.message)
      return reply.code(400).send({ error: { code: error.code, message: error.message } })
    }
    if (status === 503 && err.code === 'HUB_ERR_UNAVAILABLE') {
      return reply.code(503).send({ error: { code: err.code, message: err.message } })
    }
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      const internal = new errors.Internal()
      return reply.code(status).send({ error: { code: internal.code, message: internal.message } })
    }
    return reply.code(status).send({ error: { code: err.code ?? new errors.Request().code, message: err.message } })
  })
  app.setNotFoundHandler((request, reply) => {
    const missing = new errors.NotFound(`Route ${request.method} ${request.url.split('?')[0]}`)
    reply.code(404).send({ error: { code: missing.code, message: missing.message } })
  })
}, { name: 'error-handler' })
