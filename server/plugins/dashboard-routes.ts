import type { FastifyPluginAsync } from 'fastify'

/** The dashboard's own URLs (web/src/router.ts): a deep link or a reload of one gets index.html, and the
 * dashboard shows the view. Only these paths: everything else (every /api path included) keeps the
 * hub's JSON 404. */
export const dashboardPaths = ['/devices/:id', '/campaigns', '/alerts', '/sites', '/admin', '/admin/:page'] as const

/** Registered by the dashboard plugin after @fastify/static (whose `sendFile` serves index.html, with
 * its precompressed .br/.gz by Accept-Encoding, and `Cache-Control: no-cache` as every unhashed file). */
export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  for (const path of dashboardPaths) {
    app.get(path, { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'))
  }
}
