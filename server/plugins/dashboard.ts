import { existsSync } from 'node:fs'
import { basename, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import { dashboardRoutes } from './dashboard-routes.ts'

const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url))
const assetsRoot = join(webRoot, 'assets') + sep

/** The dashboard's static files (web/dist) and its own URLs (dashboard-routes.ts), or a 503 page saying
 * how to build them. */
export const dashboardPlugin = fp(async (app) => {
  if (existsSync(webRoot)) {
    // The build writes .br/.gz beside each text file (served by Accept-Encoding, with Vary) and keeps the
    // source maps private. Assets have content-hashed names (web/build.ts): cached for a year, immutable;
    // everything else (index.html, favicon.svg) is revalidated on each use.
    await app.register(fastifyStatic, {
      root: webRoot,
      index: ['index.html'],
      wildcard: false,
      preCompressed: true,
      allowedPath: (path) => !path.endsWith('.map') && !basename(path).startsWith('.'),
      setHeaders: (reply, path) => {
        reply.header('cache-control', path.startsWith(assetsRoot) ? 'public, max-age=31536000, immutable' : 'no-cache')
      }
    })
    // Deep links into the dashboard (/devices/:id, /admin/users…) answer its index.html.
    await app.register(dashboardRoutes)
  } else {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.code(503).type('text/plain').send('The dashboard is not built: run `npm run build:web`.'))
  }
}, { name: 'dashboard' })
