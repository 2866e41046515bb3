import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { Aedes, type AedesPublishPacket, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes'
import memoryPersistence from 'aedes-persistence'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { isAllowedDeviceSubscription, MAX_TOPIC_LEVELS, parseDevicePublishTopic, type DeviceTopic } from '../protocol/topics.ts'
import { checkConnect, clampKeepalive, refusal, ReturnCode, type ConnectRefusal } from './connect-policy.ts'
import { AddressRateLimit } from './address-rate.ts'
import { certificateIdentityOf, type ClientCertificateGate } from './client-certificates.ts'
import { interceptInbound, type InboundPacket } from './inbound-packets.ts'
import { TokenBucket } from './publish-rate.ts'
import { SESSION_MARKER_TOPIC, sessionPersistence, type SessionPersistence } from './session-persistence.ts'
import { defaultStreamGuardLimits, guardStream, type GuardRejection, type StreamGuardLimits } from './stream-guard.ts'

export interface AuthenticatedDevice { id: string, tenantId: string }

/** What the broker asks of the rest of the hub. `publish` resolves once the message is durably handled
 * (committed); only then is the PUBACK sent. */
export interface BrokerBackend {
  authenticate (deviceId: string, secret: string): Promise<AuthenticatedDevice | null>
  /** A device by the client certificate it presented on TLS (already verified by TLS, CN = deviceId):
   * null when the certificate is not this device's, is revoked, or the device is disabled or gone. */
  authenticateCertificate (deviceId: string, serial: string): Promise<AuthenticatedDevice | null>
  publish (device: AuthenticatedDevice, topic: DeviceTopic, packet: PublishPacket): Promise<void>
  connected (device: AuthenticatedDevice): void
  disconnected (device: AuthenticatedDevice, connection: object): void
  /** The device can receive its commands on `connection` (it holds a `commands/…` subscription): called
   * when it subscribes to them and when a persistent session resumes with one. */
  commandsReady (device: AuthenticatedDevice, connection: object): void
  seen (device: AuthenticatedDevice): void
  /** A refused action; `reason` is a short code (the kind of refusal), `detail` says what was asked. */
  denied (device: AuthenticatedDevice | null, action: 'publish' | 'subscribe' | 'connect', reason: string, detail: string): void
  guardRejected (rejection: ConnectionRejection): void
}

/** Why a connection was closed before MQTT: the stream guard's reasons, or the per-address rate. */
export type ConnectionRejection = GuardRejection | { code: 'connect-rate', detail: string }

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
  bucket: TokenBucket | null
  /** The filters the device holds: the subscription limit counts these, not every SUBSCRIBE it sent. */
  held: Set<string>
  /** QoS 2 message ids handled and waiting for their PUBREL: a resend before it is not handled again. */
  qos2: Set<number>
  /** Set by the first refused publish: the connection is closing, and the rest of what it already sent
   * is dropped without another audit entry each (a flood would otherwise become an audit flood). */
  refused: boolean
}

/** The embedded Aedes broker with the hub's policies: stream guard in front, device authentication,
 * per-device topic ACL, durable ingest inside authorizePublish. */
export class HubBroker {
  readonly aedes: Aedes
  private readonly session: SessionPersistence
  private readonly connectRate: AddressRateLimit | null
  /** Open sockets (TCP, TLS, WebSocket), counted at accept and close: what `hub_mqtt_connections` shows. */
  private sockets = 0
  private readonly sessions = new WeakMap<Client, Session>()
  private readonly refusals = new WeakMap<Client, ConnectRefusal>()
  /** Each CONNECT until it is authenticated: its password is then dropped, so the socket's read chunk it
   * is a slice of is not kept alive for the whole connection (mqtt-packet keeps the packet). */
  private readonly connects = new WeakMap<Client, ConnectPacket>()
  /** The live client of each device, so a replaced session's disconnect does not mark it offline. */
  private readonly current = new Map<string, Client>()
  private readonly servers: Server[] = []
  private wss: WebSocketServer | null = null

  private constructor (private readonly backend: BrokerBackend, private readonly limits: BrokerLimits) {
    this.session = sessionPersistence((memoryPersistence as unknown as () => object)(), isCommandTopic)
    this.connectRate = limits.connectRatePerIp > 0 ? new AddressRateLimit(limits.connectRatePerIp) : null
    this.aedes = new Aedes({
      persistence: this.session.persistence as never,
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
        const refused = checkConnect(packet, certificateIdentityOf(client.conn)?.deviceId)
        if (refused !== null) this.refusals.set(client, refused)
        this.connects.set(client, packet)
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
      if (!client.clean) this.session.markSession(client.id)
      this.current.set(session.device.id, client)
      backend.connected(session.device)
      // A resumed persistent session holds its subscriptions again (restored through authorizeSubscribe).
      if (holdsCommands(session)) backend.commandsReady(session.device, client)
    })
    this.aedes.on('subscribe', (subscriptions, client) => {
      const session = client === null ? undefined : this.sessions.get(client)
      if (session !== undefined && subscriptions.some((sub) => (sub.qos as number) !== 0x80 && isCommandFilter(sub.topic))) backend.commandsReady(session.device, client)
    })
    this.aedes.on('clientDisconnect', (client) => {
      const session = this.sessions.get(client)
      if (session === undefined || this.current.get(session.device.id) !== client) return
      this.current.delete(session.device.id)
      backend.disconnected(session.device, client)
    })
  }

  static async create (backend: BrokerBackend, limits: BrokerLimits): Promise<HubBroker> {
    const broker = new HubBroker(backend, limits)
    await broker.aedes.listen()
    return broker
  }

  get connectedClients (): number { return this.aedes.connectedClients }

  /** Open MQTT sockets right now. */
  get openConnections (): number { return this.sockets }

  /** Hands a raw connection to Aedes through the per-address connection rate and the stream guard. */
  handle (stream: Duplex, req?: IncomingMessage): void {
    const address = req?.socket.remoteAddress ?? (stream as { remoteAddress?: string }).remoteAddress
    if (this.connectRate !== null && address !== undefined && !this.connectRate.take(address)) {
      // [RELIABILITY 5] a storm from one address: closed before Aedes or any allocation of its own.
      this.backend.guardRejected({ code: 'connect-rate', detail: `more than ${this.limits.connectRatePerIp} new connections/s from ${address}` })
      stream.destroy()
      return
    }
    this.sockets++
    let counted = true
    const uncount = (): void => { if (counted) { counted = false; this.sockets-- } }
    stream.once('close', uncount)
    if (stream.destroyed) uncount()
    const guarded = guardStream(stream, this.limits, (rejection) => this.backend.guardRejected(rejection))
    const client = this.aedes.handle(guarded, req)
    interceptInbound(client, (packet) => this.inbound(client, packet))
  }

  /** Ends every open session of a device on this process (deleted, disabled, credentials changed):
   * nothing it sent and was not yet acknowledged is acknowledged. */
  endSessions (deviceId: string): void {
    const client = this.current.get(deviceId)
    if (client === undefined) return
    const session = this.sessions.get(client)
    if (session !== undefined) session.refused = true
    client.close()
  }

  async listenTcp (host: string, port: number): Promise<number> {
    const server = createServer({ noDelay: true }, (socket: Socket) => this.handle(socket))
    this.servers.push(server)
    await listen(server, host, port, 'MQTT')
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
    this.connectRate?.close()
    for (const server of this.servers) server.close()
    this.wss?.close()
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
  }

  private authenticate (client: Client, _username: string | undefined, password: Buffer | undefined, callback: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void): void {
    const refused = this.refusals.get(client)
    if (refused !== undefined) {
      this.backend.denied(null, 'connect', refused.reason, `${refused.reason} (client id ${JSON.stringify(client.id).slice(0, 80)})`)
      callback(refusal(refused.returnCode, refused.reason), false)
      return
    }
    // On TLS an admitted client certificate is the credential (checkConnect has matched its CN to the
    // client id); the device must still hold it unrevoked and be enabled.
    const certificate = certificateIdentityOf(client.conn)
    const authenticated = certificate === null
      ? this.backend.authenticate(client.id, (password as Buffer).toString('utf8'))
      : this.backend.authenticateCertificate(certificate.deviceId, certificate.serial)
    const connect = this.connects.get(client)
    if (connect !== undefined) { connect.password = undefined; this.connects.delete(client) }
    authenticated.then((device) => {
      if (device === null && certificate !== null) {
        this.backend.denied(null, 'connect', 'certificate-not-accepted', `client certificate ${certificate.serial} of ${client.id} is revoked or its device is disabled or gone`)
        callback(refusal(ReturnCode.NotAuthorized, 'not authorized'), false)
        return
      }
      if (device === null) {
        this.backend.denied(null, 'connect', 'bad-credentials', `bad credentials for ${client.id}`)
        callback(refusal(ReturnCode.BadUsernameOrPassword, 'bad user name or password'), false)
        return
      }
      const bucket = this.limits.publishRatePerDevice > 0 ? new TokenBucket(this.limits.publishRatePerDevice, this.limits.publishBurst) : null
      this.sessions.set(client, { device, bucket, held: new Set(), qos2: new Set(), refused: false })
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
      this.backend.denied(session.device, 'publish', packet.retain ? 'retained-publish' : 'topic', `${packet.retain ? 'retained ' : ''}publish to ${JSON.stringify(packet.topic).slice(0, 300)}`)
      callback(new Error('publish not authorized'))
      return
    }
    this.backend.seen(session.device)
    if (packet.qos === 2) {
      // [MQTT-4.3.3-2] a QoS 2 resend before PUBREL is the same message: Aedes answers PUBREC again,
      // the hub does not handle it twice. Within a connection by id; across a resumed session by the
      // session's own store of unreleased messages.
      if (session.qos2.has(packet.messageId as number)) { callback(null); return }
      if (packet.dup) {
        const store = (this.aedes as unknown as { persistence: { incomingGetPacket (c: Client, p: PublishPacket): Promise<unknown> } }).persistence
        store.incomingGetPacket(client, packet).then(
          () => { callback(null) },
          () => { this.admitPublish(session, topic, packet, callback) })
        return
      }
    }
    this.admitPublish(session, topic, packet, callback)
  }

  private admitPublish (session: Session, topic: DeviceTopic, packet: PublishPacket, callback: (err?: Error | null) => void): void {
    if (packet.qos === 2) session.qos2.add(packet.messageId as number)
    const wait = session.bucket === null ? 0 : session.bucket.reserve()
    if (wait > MAX_RATE_WAIT_MS) {
      // Far beyond its rate for long (a flood): the device is disconnected rather than queued.
      session.refused = true
      this.backend.denied(session.device, 'publish', 'publish-rate', `publish rate above ${this.limits.publishRatePerDevice}/s`)
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
    this.backend.publish(session.device, topic, packet).then(() => callback(null), (err: Error) => {
      if (packet.qos === 2) session.qos2.delete(packet.messageId as number) // not handled: the resend is
      callback(err)
    })
  }

  /** Sees each packet a client sends before Aedes does; false keeps it from Aedes. */
  private inbound (client: Client, packet: InboundPacket): boolean {
    const session = this.sessions.get(client)
    switch (packet.cmd) {
      case 'subscribe': {
        // Granted at most QoS 1 [DESIGN "Session semantics"]: Aedes answers SUBACK with the QoS the
        // packet asked for, so the request itself is capped before Aedes reads it.
        for (const sub of packet.subscriptions) if (sub.qos > 1) sub.qos = 1
        const filters = packet.subscriptions.map((sub) => sub.topic)
        if (new Set(filters).size === filters.length) return true
        // A repeated filter: Aedes would answer one return code per distinct filter; MQTT-3.8.4-5 wants
        // one per filter as sent. Subscribe the distinct ones (the last of each wins) and answer here.
        this.subscribeRepeated(client, packet.messageId as number, packet.subscriptions)
        return false
      }
      case 'unsubscribe':
        if (session !== undefined) for (const topic of packet.unsubscriptions) session.held.delete(topic)
        return true
      case 'pubrel':
        session?.qos2.delete(packet.messageId as number)
        return true
      default:
        return true
    }
  }

  private subscribeRepeated (client: Client, messageId: number, subscriptions: Array<{ topic: string, qos: number }>): void {
    const distinct = [...new Map(subscriptions.map((sub) => [sub.topic, sub])).values()]
    const run = (): void => {
      client.subscribe({ subscriptions: distinct } as never, (err?: Error | null) => {
        if (err !== undefined && err !== null) { client.close(); return }
        const held = (client as unknown as { subscriptions: Record<string, { qos: number } | undefined> }).subscriptions
        const granted = subscriptions.map((sub) => held[sub.topic]?.qos ?? 0x80)
        client.conn.write(mqttPacket.generate({ cmd: 'suback', messageId, granted } as mqttPacket.ISubackPacket))
      })
    }
    if ((client as unknown as { connackSent?: boolean }).connackSent === true) run()
    else client.once('connected' as never, run)
  }

  private authorizeSubscribe (client: Client, sub: Subscription, callback: (err: Error | null, sub?: Subscription | null) => void): void {
    const session = this.sessions.get(client)
    // The marker of a persistent session without subscriptions (broker/session-persistence.ts).
    if (sub.topic === SESSION_MARKER_TOPIC) { callback(null, null); return }
    const allowed = session !== undefined && isAllowedDeviceSubscription(session.device.id, sub.topic) &&
      (session.held.has(sub.topic) || session.held.size < this.limits.maxSubscriptionsPerDevice)
    if (!allowed) {
      this.backend.denied(session?.device ?? null, 'subscribe', session === undefined || isAllowedDeviceSubscription(session.device.id, sub.topic) ? 'subscription-limit' : 'topic', `subscribe to ${JSON.stringify(sub.topic).slice(0, 300)}`)
      callback(null, null) // SUBACK 0x80
      return
    }
    session.held.add(sub.topic)
    callback(null, { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 })
  }

  /** [RELIABILITY 30] re-checked at delivery: a device only ever receives what the hub sends it (its
   * commands and notification acks), never another device's topics nor its own publishes back. */
  private authorizeForward (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = this.sessions.get(client)
    if (session === undefined) return null
    const prefix = `devices/${session.device.id}/`
    if (!packet.topic.startsWith(prefix)) return null
    const rest = packet.topic.slice(prefix.length)
    return rest === 'notifications/ack' || (rest.startsWith('commands/') && rest.indexOf('/', 9) === -1) ? packet : null
  }
}

/** `devices/{id}/commands/{commandId}`: what the hub alone delivers. */
const isCommandTopic = (topic: string): boolean => /^devices\/[^/]+\/commands\/[^/]+$/.test(topic)
const isCommandFilter = (filter: string): boolean => filter.endsWith('/commands/#') || filter.endsWith('/commands/+')
const holdsCommands = (session: Session): boolean => [...session.held].some(isCommandFilter)

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
