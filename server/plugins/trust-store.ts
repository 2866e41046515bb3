import fp from 'fastify-plugin'
import { TrustStore } from '../trust/trust-store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** eUICC trust anchors (GSMA CI certificates): the platform's and each tenant's. */
    trustStore: TrustStore
  }
}

/** Loads HUB_EUICC_TRUST_DIR's anchors beside the ones kept in the database. */
export const trustStorePlugin = fp(async (app) => {
  const trustStore = new TrustStore(app.database)
  if (app.config.euiccTrustDir !== null) trustStore.loadDirectory(app.config.euiccTrustDir)
  await trustStore.reload()
  const anchors = trustStore.list().length
  app.log.info({ trustAnchors: anchors }, anchors === 0 ? 'no eUICC trust anchor: every notification will be rejected (no-trust-anchor)' : 'eUICC trust anchors loaded')
  app.decorate('trustStore', trustStore)
}, { name: 'trust-store', dependencies: ['config', 'database'] })
