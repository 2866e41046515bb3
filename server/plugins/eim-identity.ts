import fp from 'fastify-plugin'
import { loadEimIdentity, type EimIdentity } from '../eim/eim-identity.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The hub's eIM id and signing key (SGP.32 eUICC Packages), kept in the settings table. */
    eim: EimIdentity
  }
}

export const eimIdentityPlugin = fp(async (app) => {
  app.decorate('eim', await loadEimIdentity((key, create) => app.users.setting(key, create)))
}, { name: 'eim-identity', dependencies: ['repositories'] })
