import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'
import { auditHooks } from '../audit/audit-hooks.ts'
import { transportSecurity } from '../transport-security.ts'

/** Response headers and the request audit: helmet's headers with a strict CSP, HSTS only over TLS
 * (transport-security.ts, never over plain HTTP), and an audit entry for every authenticated mutation
 * and refused read (audit/audit-hooks.ts). */
export const httpSecurityPlugin = fp(async (app) => {
  await app.register(transportSecurity)
  await app.register(helmet, {
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: null
      }
    }
  })
  await app.register(auditHooks, { audit: app.audit })
}, { name: 'http-security', dependencies: ['audit'] })
