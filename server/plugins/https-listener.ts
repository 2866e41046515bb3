import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import fp from 'fastify-plugin'
import { PortInUseError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** HUB_HTTPS_PORT's listener: its port once the app is ready, or null when not configured. */
    httpsListener: { readonly port: number | null }
  }
}

/** Serves the same app (dashboard, API, SSE) over TLS on HUB_HTTPS_PORT with HUB_TLS_CERT / HUB_TLS_KEY,
 * beside the plain HTTP listener: requests go through the app's router, so every hook, route and limit
 * is the same; `request.protocol` is `https` there, which makes the refresh cookie `Secure` and sends
 * HSTS. Opens when the app is ready; stops accepting and ends its connections (SSE streams included)
 * in `preClose`, with the HTTP listener. */
export const httpsListenerPlugin = fp(async (app) => {
  const { config } = app
  const state = { port: null as number | null }
  app.decorate('httpsListener', state as { readonly port: number | null })
  if (config.httpsPort === null) return
  if (config.tlsCert === null || config.tlsKey === null) throw new Error('HUB_HTTPS_PORT needs HUB_TLS_CERT and HUB_TLS_KEY')
  const server: Server = createServer({
    cert: readFileSync(config.tlsCert),
    key: readFileSync(config.tlsKey),
    minVersion: 'TLSv1.2',
    requestTimeout: 30_000
  }, (req, res) => app.routing(req, res))
  const sockets = new Set<Socket>()
  server.on('secureConnection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  // A failed handshake or a malformed request ends that connection only.
  server.on('tlsClientError', (_err, socket) => socket.destroy())
  server.on('clientError', (_err, socket) => socket.destroy())
  const port = config.httpsPort
  app.addHook('onReady', async () => {
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new PortInUseError('HTTPS', config.host, port, 'HUB_HTTPS_PORT', { cause: err }) : err)
      }
      server.once('error', failed)
      server.listen(port, config.host, () => {
        server.off('error', failed)
        resolve()
      })
    })
    state.port = (server.address() as AddressInfo).port
    app.log.info({ httpsPort: state.port }, 'HTTPS listening')
  })
  let closing: Promise<void> | null = null
  const close = () => (closing ??= new Promise<void>((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    for (const socket of sockets) socket.destroy()
  }))
  app.addHook('preClose', close)
  app.addHook('onClose', close)
}, { name: 'https-listener', dependencies: ['config'] })
