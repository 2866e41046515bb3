import type { FastifyRequest } from 'fastify'

/** CSRF defence for cookie-authenticated requests (refresh, logout, the SSE stream): a browser names the
 * page's origin in `Origin` and the relation in `Sec-Fetch-Site`; anything cross-site is refused.
 * Requests without either header are not from a browser page (curl, an integration) and carry no
 * ambient credential to abuse. The refresh cookie is SameSite=Strict as well. */
export function isSameOrigin (request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false
  const origin = request.headers.origin
  if (origin === undefined) return true
  return origin === `${request.protocol}://${request.host}`
}
