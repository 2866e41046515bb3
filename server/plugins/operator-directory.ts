import fp from 'fastify-plugin'
import { OperatorDirectory } from '../inventory/operator-directory.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Operators by ICCID prefix and by MCC/MNC, loaded once at start. */
    operators: OperatorDirectory
  }
}

export const operatorDirectoryPlugin = fp(async (app) => {
  const operators = new OperatorDirectory(app.database)
  await operators.load()
  app.decorate('operators', operators)
}, { name: 'operator-directory', dependencies: ['database'] })
