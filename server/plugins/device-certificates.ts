import fp from 'fastify-plugin'
import { DeviceCertificates } from '../device-ca/device-certificates.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The device CA, the client certificates it issued (to devices and site gateways), and the TLS listener's gate. */
    deviceCertificates: DeviceCertificates
  }
}

export const deviceCertificatesPlugin = fp(async (app) => {
  const deviceCertificates = await DeviceCertificates.start({
    database: app.database,
    bus: app.bus,
    setting: (key, create) => app.users.setting(key, create),
    onError: (err) => app.log.error({ err: err.message }, 'reloading revoked device certificates failed')
  })
  app.decorate('deviceCertificates', deviceCertificates)
  app.addHook('onClose', async () => { deviceCertificates.close() })
}, { name: 'device-certificates', dependencies: ['database', 'bus', 'repositories'] })
