import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuditLog, AuditOutcome } from './audit-log.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route writes its own audit entries (the generic one would duplicate them). */
    audit?: boolean
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Audits, for every authenticated API request: each mutation (`POST /api/devices` …, with its outcome),
 * and each refused read (403, or 404 on a route that names an object by id: a cross-tenant probe looks
 * exactly like this). Unauthenticated requests are not audited here (no amplification of floods); the
 * sign-in route audits its own attempts. */
export const auditHooks = fp(async (app, { audit }: { audit: AuditLog }) => {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config
    const user = (request as { user?: FastifyRequest['user'] }).user
    if (user === undefined || user === null || typeof user.sub !== 'string') return
    const url = request.routeOptions.url
    if (url === undefined || !url.startsWith('/api/')) return
    const status = reply.statusCode
    const params = (request.params ?? {}) as Record<string, unknown>
    const target = typeof params.id === 'string' ? params.id : null
    let outcome: AuditOutcome
    if (status < 400) outcome = 'success'
    else if (status === 401 || status === 403 || (status === 404 && target !== null)) outcome = 'denied'
    else outcome = 'failure'
    if (READS.has(request.method) && outcome !== 'denied') return
    // Routes that write their own entries still get their refusals audited here.
    if (config?.audit === false && outcome !== 'denied') return
    await audit.append({
      tenantId: user.tid,
      actorType: user.kind === 'api-key' ? 'api-key' : 'user',
      actorId: user.sub,
      action: `${request.method} ${url}`,
      target,
      outcome,
      detail: { status },
      ip: request.ip
    }).catch((err: Error) => request.log.error({ err }, 'audit append failed'))
  })
}, { name: 'audit-hooks' })
