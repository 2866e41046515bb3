import fp from 'fastify-plugin'
import { ProfileInventory } from '../inventory/profile-inventory.ts'
import { EuiccCertificates } from '../trust/euicc-certificates.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The profile inventory: every write to `profiles`, and the conflict rule (inventory/). */
    inventory: ProfileInventory
    /** The eUICC certificates the hub holds, one per EID (registered or learned from notifications). */
    euiccCertificates: EuiccCertificates
  }
}

export const inventoryPlugin = fp(async (app) => {
  app.decorate('inventory', new ProfileInventory(app.database, app.operators))
  app.decorate('euiccCertificates', new EuiccCertificates(app.database))
}, { name: 'inventory', dependencies: ['database', 'operator-directory'] })
