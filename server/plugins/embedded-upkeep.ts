import fp from 'fastify-plugin'
import { upkeepOnce } from '../db/embedded-upkeep.ts'

export interface EmbeddedUpkeepOptions {
  /** How often the embedded database's tables are checked (ms; default one minute). */
  upkeepMs?: number
}

/** On PGlite, the vacuuming and analyzing that a Postgres server's autovacuum does on its own
 * (server/db/embedded-upkeep.ts): a pass every minute, each after the previous one has finished; a pass
 * under way is awaited at close. Nothing on Postgres. */
export const embeddedUpkeepPlugin = fp(async (app, opts: EmbeddedUpkeepOptions) => {
  const { database } = app
  if (database.driver !== 'pglite') return
  let running: Promise<void> | null = null
  const timer = setInterval(() => {
    if (running !== null) return
    running = upkeepOnce(database).then((done) => {
      if (done.length > 0) app.log.debug({ tables: done }, 'embedded database upkeep')
    }, (err: Error) => app.log.warn({ err: err.message }, 'embedded database upkeep failed; the next pass tries again'))
      .finally(() => { running = null })
  }, opts.upkeepMs ?? 60_000).unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}, { name: 'embedded-upkeep', dependencies: ['database'] })
