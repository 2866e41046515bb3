import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { isAllowedDeviceSubscription, MAX_TOPIC_LEVELS, parseDevicePublishTopic, type DeviceTopic } from '../protocol/topics.ts'
import { checkConnect, clampKeepalive, refusal, ReturnCode, type ConnectRefusal } from './connect-policy.ts'
import { TokenBucket } from './publish-rate.ts'
import { defaultStreamGuardLimits, guardStream, type GuardRejection, type StreamGuardLimits } from './stream-guard.ts'

export interface AuthenticatedDevice { id: string, tenantId: string }

/** What the broker asks of the rest of the hub. `publish` resolves once the message is durably handled
 * (committed); only then is the PUBACK sent. */
export interface BrokerBackend {
  authenticate (deviceId: string, secret: string): Promise<AuthenticatedDevice | null>
  publish (device: AuthenticatedDevice, topic: DeviceTopic, packet: PublishPacket): Promise<void>
  connected (device: AuthenticatedDevice): void
  disconnected (device: AuthenticatedDevice): void
  seen (device: AuthenticatedDevice): void
  denied (device: AuthenticatedDevice | null, action: 'publish' | 'subscribe' | 'connect', detail: string): void
  guardRejected (rejection: GuardRejection): void
}

export interface BrokerLimits extends StreamGuardLimits {
  /** Sustained publishes per second per device; above it publishes wait (backpressure), far above it the
   * device is disconnected. */
  publishRatePerDevice: number
  publishBurst: number
  /** New connections per second per source address (0: no limit). */
  connectRatePerIp: number
  maxSubscriptionsPerDevice: number
  maxInflightInbound: number
  drainTimeoutMs: number
}

export const defaultBrokerLimits: BrokerLimits = {
  ...defaultStreamGuardLimits,
  publishRatePerDevice: 50,
  publishBurst: 200,
  connectRatePerIp: 50,
  maxSubscriptionsPerDevice: 32,
  maxInflightInbound: 100,
  drainTimeoutMs: 30_000
}

/** A device whose publishes would wait longer than this for the rate limit is disconnected. */
const MAX_RATE_WAIT_MS = 5000

interface Session {
  device: AuthenticatedDevice
  bucket: TokenBucket
  subscriptions: number
  /** Set by the first refused publish: the connection is closing, and the rest of what it already sent
   * is dropped without another audit entry each (a flood would otherwise become an audit flood). */
  refused: boolean
}

/** The embedded Aedes broker with the hub's policies: stream guard in front, device authentication,
 * per-device topic ACL, durable ingest inside authorizePublish. */
export class HubBroker {
  readonly aedes: Aedes
  private readonly sessions = new WeakMap<Client, Session>()
  private readonly refusals = new WeakMap<Client, ConnectRefusal>()
  /** The live client of each device, so a replaced session's disconnect does not mark it offline. */
  private readonly current = new Map<string, Client>()
  private readonly servers: Server[] = []
  private wss: WebSocketServer | null = null

  private constructor (private readonly backend: BrokerBackend, private readonly limits: BrokerLimits) {
    this.aedes = new Aedes({
      // mqemitter's bounded queue recurses once per queued message when it drains, which overflows the
      // stack under a QoS 0 flood (RELIABILITY 26); unbounded concurrency never queues, and the per-device
      // token bucket and the stream guard bound the work instead.
      concurrency: 0,
      maxInflightInbound: limits.maxInflightInbound,
      drainTimeout: limits.drainTimeoutMs,
      connectTimeout: limits.connectDeadlineMs,
      maxClientsIdLength: 64,
      maxTopicLevels: MAX_TOPIC_LEVELS,
      queueLimit: 42,
      preConnect: (client, packet, callback) => {
        packet.keepalive = clampKeepalive(packet.keepalive ?? 0)
        // Checked on the packet as received (Aedes replaces an empty client id with a generated one);
        // the refusal is answered from `authenticate`, the hook that can send a CONNACK return code.
        const refused = checkConnect(packet)
        if (refused !== null) this.refusals.set(client, refused)
        callback(null, true)
      },
      authenticate: (client, username, password, callback) => { this.authenticate(client, username, password, callback) },
      authorizePublish: (client, packet, callback) => { this.authorizePublish(client, packet, callback) },
      authorizeSubscribe: (client, sub, callback) => { this.authorizeSubscribe(client, sub, callback) },
      authorizeForward: (client, packet) => this.authorizeForward(client, packet)
    })
    this.aedes.on('clientReady', (client) => {
      const session = this.sessions.get(client)
      if (session === undefined) return
      this.current.set(session.device.id, client)
      backend.connected(session.device)
    })
    this.aedes.on('clientDisconnect', (client) => {
      const session = this.sessions.get(client)
      if (session === undefined || this.current.get(session.device.id) !== client) return
      this.current.delete(session.device.id)
      backend.disconnected(session.device)
    })
  }

  static async create (backend: BrokerBackend, limits: BrokerLimits): Promise<HubBroker> {
    const broker = new HubBroker(backend, limits)
    await broker.aedes.listen()
    return broker
  }

  get connectedClients (): number { return this.aedes.connectedClients }

  /** Hands a raw connection to Aedes through the stream guard. */
  handle (stream: Duplex, req?: IncomingMessage): void {
    const guarded = guardStream(stream, this.limits, (rejection) => this.backend.guardRejected(rejection))
    this.aedes.handle(guarded, req)
  }

  async listenTcp (host: string, port: number): Promise<number> {
    const server = createServer({ noDelay: true }, (socket: Socket) => this.handle(socket))
    this.servers.push(server)
    await listen(server, host, port, 'MQTT')
    return (server.address() as AddressInfo).port
  }

  /** MQTT over TLS. Client certificates are requested but not required: devices still authenticate
   * with their id and secret (certificate authentication belongs to the identity work). */
  async listenTls (host: string, port: number, credentials: { cert: Buffer, key: Buffer }): Promise<number> {
    const server = createTlsServer({ ...credentials, minVersion: 'TLSv1.2' }, (socket: TLSSocket) => this.handle(socket))
    server.on('tlsClientError', () => {}) // plain TCP or a failed handshake: the socket is closed, nothing else
    this.servers.push(server)
    await listen(server, host, port, 'MQTT/TLS')
    return (server.address() as AddressInfo).port
  }

  /** MQTT over WebSocket at `path` on the HTTP server. */
  attachWebSocket (http: HttpServer, path = '/mqtt'): void {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxPacketBytes, handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : false })
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

  async close (): Promise<void> {
    for (const server of this.servers) server.close()
    this.wss?.close()
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
  }

  private authenticate (client: Client, _username: string | undefined, password: Buffer | undefined, callback: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void): void {
    const refused = this.refusals.get(client)
    if (refused !== undefined) {
      this.backend.denied(null, 'connect', `${refused.reason} (client id ${JSON.stringify(client.id).slice(0, 80)})`)
      callback(refusal(refused.returnCode, refused.reason), false)
      return
    }
    this.backend.authenticate(client.id, (password as Buffer).toString('utf8')).then((device) => {
      if (device === null) {
        this.backend.denied(null, 'connect', `bad credentials for ${client.id}`)
        callback(refusal(ReturnCode.BadUsernameOrPassword, 'bad user name or password'), false)
        return
      }
      this.sessions.set(client, { device, bucket: new TokenBucket(this.limits.publishRatePerDevice, this.limits.publishBurst), subscriptions: 0, refused: false })
      callback(null, true)
    }, () => {
      // [RELIABILITY 18] the database is down: refuse, never accept unauthenticated.
      callback(refusal(ReturnCode.ServerUnavailable, 'server unavailable'), false)
    })
  }

  private authorizePublish (client: Client | null, packet: PublishPacket, callback: (err?: Error | null) => void): void {
    if (client === null) { callback(null); return } // the hub's own publishes (commands, acks)
    const session = this.sessions.get(client)
    if (session === undefined) { callback(new Error('not authenticated')); return }
    if (session.refused) { callback(new Error('connection closing')); return }
    const topic = parseDevicePublishTopic(packet.topic)
    if (topic === null || topic.deviceId !== session.device.id || (packet.retain && topic.kind !== 'status')) {
      // [RELIABILITY 20, 25] outside the contract: close the connection and record it.
      session.refused = true
      this.backend.denied(session.device, 'publish', `${packet.retain ? 'retained ' : ''}publish to ${JSON.stringify(packet.topic).slice(0, 300)}`)
      callback(new Error('publish not authorized'))
      return
    }
    this.backend.seen(session.device)
    const wait = session.bucket.reserve()
    if (wait > MAX_RATE_WAIT_MS) {
      // Far beyond its rate for long (a flood): the device is disconnected rather than queued.
      session.refused = true
      this.backend.denied(session.device, 'publish', `publish rate above ${this.limits.publishRatePerDevice}/s`)
      callback(new Error('publish rate exceeded'))
      return
    }
    if (wait > 0) {
      // Over the rate: hold this publish (and its PUBACK). Aedes reads nothing more from the socket until
      // the packets of the current read are handled, so the device is slowed down by TCP itself.
      setTimeout(() => {
        if (session.refused) callback(new Error('connection closing'))
        else this.ingest(session, topic, packet, callback)
      }, wait)
      return
    }
    this.ingest(session, topic, packet, callback)
  }

  private ingest (session: Session, topic: DeviceTopic, packet: PublishPacket, callback: (err?: Error | null) => void): void {
    this.backend.publish(session.device, topic, packet).then(() => callback(null), (err: Error) => callback(err))
  }

  private authorizeSubscribe (client: Client, sub: Subscription, callback: (err: Error | null, sub?: Subscription | null) => void): void {
    const session = this.sessions.get(client)
    const allowed = session !== undefined && isAllowedDeviceSubscription(session.device.id, sub.topic) &&
      session.subscriptions < this.limits.maxSubscriptionsPerDevice
    if (!allowed) {
      this.backend.denied(session?.device ?? null, 'subscribe', `subscribe to ${JSON.stringify(sub.topic).slice(0, 300)}`)
      callback(null, null) // SUBACK 0x80
      return
    }
    session.subscriptions++
    callback(null, { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 })
  }

  /** [RELIABILITY 30] re-checked at delivery: a device only ever receives its own topics. */
  private authorizeForward (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = this.sessions.get(client)
    if (session === undefined) return null
    return packet.topic.startsWith(`devices/${session.device.id}/`) ? packet : null
  }
}

function listen (server: Server | import('node:tls').Server, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? Object.assign(new Error(`${what} port ${port} on ${host} is already in use (set HUB_MQTT_PORT to a free port, or 0 to pick one)`), { code: 'HUB_ERR_PORT_IN_USE' })
        : err)
    })
    server.listen(port, host, () => resolve())
  })
}
