import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/** The /api routes a request reaches without an access token or API key. Each checks what it needs
 * itself: sign-in its password (and TOTP), refresh and logout the refresh cookie (logout also takes a
 * Bearer token), the SSE stream its one-use ticket and same origin. Everything else under /api
 * authenticates here. Outside /api — ES9+ (`/gsma/…`), `/healthz`, `/readyz`, `/metrics` (its own
 * token), `/docs` and the dashboard — nothing is authenticated by this hook. */
export const PUBLIC_API_ROUTES: ReadonlySet<string> = new Set([
  'POST /api/auth/login',
  'POST /api/auth/refresh',
  'POST /api/auth/logout',
  'GET /api/events'
])

/** The one place that authenticates /api (fastify/demo's `routes/api/autohooks.ts`): registered in the
 * /api scope (routes/api.ts), so it runs before every hook of the route plugins there (their
 * `requireRole`). An unknown /api URL still answers 404, not 401 (no route, no hook). */
export const apiAutohooks = fp(async (api) => {
  api.addHook('onRequest', async (request: FastifyRequest) => {
    const method = request.method === 'HEAD' ? 'GET' : request.method
    if (PUBLIC_API_ROUTES.has(`${method} ${request.routeOptions.url ?? ''}`)) return
    await api.authenticate(request)
  })
}, { name: 'api-autohooks', dependencies: ['identity'] })
