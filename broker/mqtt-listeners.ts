// The broker's listeners: MQTT over TCP, over TLS (with the client-certificate gate of
// broker/client-certificates.ts) and over WebSocket on the HTTP server. Each accepted connection goes to
// `handle` (HubBroker.handle: the connection rate, the stream guard, Aedes).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { BrokerBackend } from './broker-contract.ts'
import type { ClientCertificateGate } from './client-certificates.ts'

export class MqttListeners {
  private readonly servers: Array<Server | TlsServer> = []
  private wss: WebSocketServer | null = null

  constructor (
    private readonly handle: (stream: Duplex, req?: IncomingMessage) => void,
    private readonly backend: Pick<BrokerBackend, 'denied'>,
    private readonly maxPacketBytes: number
  ) {}

  async listenTcp (host: string, port: number): Promise<number> {
    const server = createServer({ noDelay: true }, (socket: Socket) => this.handle(socket))
    this.servers.push(server)
    await listen(server, host, port)
    return (server.address() as AddressInfo).port
  }

  /** MQTT over TLS. With `clientCertificates`, client certificates are requested but not required: one
   * TLS did not authorize, or a revoked one, closes the socket before MQTT; an admitted one authenticates
   * its device (CN) at CONNECT; without one, the device authenticates with its id and secret. */
  async listenTls (host: string, port: number, credentials: { cert: Buffer, key: Buffer }, clientCertificates?: ClientCertificateGate): Promise<number> {
    const server = createTlsServer({ ...credentials, minVersion: 'TLSv1.2', ...clientCertificates?.tlsOptions() }, (socket: TLSSocket) => {
      const admission = clientCertificates?.admit(socket)
      if (admission !== undefined && !admission.ok) {
        this.backend.denied(null, 'connect', admission.reason, admission.detail)
        return
      }
      this.handle(socket)
    })
    server.on('tlsClientError', () => {}) // plain TCP or a failed handshake: the socket is closed, nothing else
    this.servers.push(server)
    await listen(server, host, port)
    return (server.address() as AddressInfo).port
  }

  /** MQTT over WebSocket at `path` on the HTTP server. */
  attachWebSocket (http: HttpServer, path = '/mqtt'): void {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxPacketBytes, handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : false })
    http.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://hub').pathname !== path) {
        // Nothing else on the HTTP port takes an upgrade: answer instead of leaving the socket open.
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
        return
      }
      this.wss?.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws)
        stream.on('error', () => stream.destroy())
        this.handle(stream, req)
      })
    })
  }

  /** Stops accepting; open connections are the broker's to close. */
  close (): void {
    for (const server of this.servers) server.close()
    this.wss?.close()
  }
}

/** Rejects with the socket's own error (EADDRINUSE for a taken port: the hub says which setting to change). */
function listen (server: Server | TlsServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
}
