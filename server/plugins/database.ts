import fp from 'fastify-plugin'
import { openDatabase, type Database } from '../db/database.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Postgres (postgres.js) or PGlite, migrated. Closed last. */
    database: Database
  }
}

/** Opens the database and applies the migrations (a failed migration stops the start: MigrationError). */
export const databasePlugin = fp(async (app) => {
  const database = await openDatabase(app.config.databaseUrl)
  app.decorate('database', database)
  app.addHook('onClose', async () => { await database.close() })
  app.log.info({ driver: database.driver }, 'database ready, migrations applied')
}, { name: 'database', dependencies: ['config'] })
