import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { NotificationPipeline } from '../notifications/notification-pipeline.ts'
import { ErrorBody } from './schemas.ts'

const Es9Body = Type.Object({ pendingNotification: Type.String({ maxLength: 90_000 }) })

/** ES9+ handleNotification (SGP.22 JSON binding), the endpoint an LPA posts a notification to. */
export const es9plusRoutes: FastifyPluginAsyncTypebox<{ notifications: NotificationPipeline }> = async (app, deps) => {
  // LPAs give up quickly, so the answer is 204 as soon as the raw
  // notification is committed — also for notifications that will be rejected — and the verification
  // runs after the answer. A crash in between leaves it in the inbox, and the next start processes it.
  app.post('/gsma/rsp2/es9plus/handleNotification', {
    bodyLimit: 128 * 1024,
    schema: { tags: ['es9plus'], body: Es9Body, response: { 204: Type.Null(), 400: ErrorBody } }
  }, async (request, reply) => {
    const der = Buffer.from(request.body.pendingNotification, 'base64')
    await deps.notifications.receive(der)
    reply.code(204).header('x-admin-protocol', 'gsma/rsp/v2.5.0')
    return null
  })
}
