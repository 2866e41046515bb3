import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { HubConfig } from './config.ts'
import { PortInUseError } from './errors.ts'

export interface HttpsListener {
  readonly server: Server
  readonly port: number
  /** Stops accepting and ends the open connections (SSE streams included). */
  close (): Promise<void>
}

/** Serves the same Fastify app (dashboard, API, SSE) over TLS on `HUB_HTTPS_PORT` with `HUB_TLS_CERT` /
 * `HUB_TLS_KEY`, beside the plain HTTP listener: requests go through the app's router, so every hook,
 * route and limit is the same; `request.protocol` is `https` there, which makes the refresh cookie
 * `Secure` and sends HSTS. Returns null when no HTTPS port is configured. Call after `app.listen`. */
export async function listenHttps (app: FastifyInstance, config: Pick<HubConfig, 'host' | 'httpsPort' | 'tlsCert' | 'tlsKey'>): Promise<HttpsListener | null> {
  if (config.httpsPort === null) return null
  if (config.tlsCert === null || config.tlsKey === null) throw new Error('HUB_HTTPS_PORT needs HUB_TLS_CERT and HUB_TLS_KEY')
  await app.ready()
  const server = createServer({
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
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortInUseError('HTTPS', config.host, config.httpsPort as number, 'HUB_HTTPS_PORT', { cause: err }) : err)
    }
    server.once('error', failed)
    server.listen(config.httpsPort as number, config.host, () => {
      server.off('error', failed)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  app.log.info({ httpsPort: port }, 'HTTPS listening')
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    })
  }
}
