import fp from 'fastify-plugin'
import { AuditLog } from '../audit/audit-log.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The hash-chained audit log; flushed at close. */
    audit: AuditLog
  }
}

export const auditPlugin = fp(async (app) => {
  const audit = new AuditLog(app.database)
  app.decorate('audit', audit)
  app.addHook('onClose', async () => { await audit.flush() })
}, { name: 'audit', dependencies: ['database'] })
