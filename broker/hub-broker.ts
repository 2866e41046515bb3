// The embedded Aedes broker with the hub's policies (docs/broker.md). This file builds it and owns the
// connection lifecycle: the per-address connection rate and the stream guard in front of Aedes
// (broker/stream-guard.ts), CONNECT checks and authentication, the session of each device and the events the
// hub hears (connected, commands ready, disconnected). The rest, one job each:
//   broker-contract.ts      what the broker asks of the hub (BrokerBackend) and its limits
//   mqtt-listeners.ts       TCP, TLS and WebSocket listeners
//   publish-admission.ts    the publish path: topic ACL, QoS 2 once, rate, durable ingest before PUBACK
//   subscription-rules.ts   what a device may subscribe to and what may be forwarded to it
//   device-session.ts       the state of one session, command topics
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Aedes, type Client, type ConnectPacket } from 'aedes'
import memoryPersistence from 'aedes-persistence'
import { MAX_TOPIC_LEVELS } from '../protocol/topics.ts'
import { ConnectionRate, type SharedAddressRate } from './address-rate.ts'
import type { AuthenticatedDevice, AuthenticatedGateway, BrokerBackend, BrokerLimits } from './broker-contract.ts'
import { certificateIdentityOf, type CertificateIdentity, type ClientCertificateGate } from './client-certificates.ts'
import { checkConnect, clampKeepalive, refusal, ReturnCode, type ConnectRefusal } from './connect-policy.ts'
import { holdsCommands, isCommandFilter, isCommandTopic, type Session } from './device-session.ts'
import { GatewaySession } from './gateway-session.ts'
import { interceptInbound } from './inbound-packets.ts'
import { MqttListeners } from './mqtt-listeners.ts'
import { PublishAdmission } from './publish-admission.ts'
import type { BrokerStores } from './redis-stores.ts'
import { TokenBucket } from './publish-rate.ts'
import { sessionPersistence, type SessionPersistence } from './session-persistence.ts'
import { guardStream } from './stream-guard.ts'
import { SubscriptionRules } from './subscription-rules.ts'

export { defaultBrokerLimits } from './broker-contract.ts'
export type { AuthenticatedDevice, BrokerBackend, BrokerLimits, ConnectionRejection, GatewayCertificateVerdict } from './broker-contract.ts'

/** A CONNECT refused and audited already: answered with return code 5. */
const REFUSED = Symbol('refused')
type Refused = typeof REFUSED

/** What the broker shares with the other hub processes through Redis (docs/scale-out.md); null: kept in
 * this process's memory. */
export interface SharedBrokerState {
  /** Aedes' router and session store (broker/redis-stores.ts). */
  stores: BrokerStores | null
  /** The per-address connection rate's bucket (broker/redis-address-rate.ts). */
  connectRate: SharedAddressRate | null
}

/** The embedded Aedes broker with the hub's policies: stream guard in front, device authentication,
 * per-device topic ACL, durable ingest inside authorizePublish. */
export class HubBroker {
  readonly aedes: Aedes
  private readonly session: SessionPersistence
  private readonly connectRate: ConnectionRate | null
  /** Sockets waiting for the shared connection rate's verdict: not read yet, destroyed at close. */
  private readonly awaitingRate = new Set<Duplex>()
  private readonly listeners: MqttListeners
  private readonly publishes: PublishAdmission
  private readonly subscriptions: SubscriptionRules
  /** Open sockets (TCP, TLS, WebSocket), counted at accept and close: what `hub_mqtt_connections` shows. */
  private sockets = 0
  private readonly sessions = new WeakMap<Client, Session>()
  private readonly refusals = new WeakMap<Client, ConnectRefusal>()
  /** Each CONNECT until it is authenticated: its password is then dropped, so the socket's read chunk it
   * is a slice of is not kept alive for the whole connection (mqtt-packet keeps the packet). */
  private readonly connects = new WeakMap<Client, ConnectPacket>()
  /** The live client of each device, so a replaced session's disconnect does not mark it offline. */
  private readonly current = new Map<string, Client>()
  /** Clients being closed because their client id connected to another hub process. */
  private readonly movedAway = new WeakSet<Client>()
  /** A gateway's session state between its authentication and its session. */
  private readonly gateways = new WeakMap<Client, GatewaySession>()

  /** Aedes' router and session store in Redis, released after Aedes has closed; null: in memory. */
  private readonly stores: BrokerStores | null

  private constructor (private readonly backend: BrokerBackend, private readonly limits: BrokerLimits, shared: SharedBrokerState) {
    const { stores } = shared
    this.stores = stores
    this.session = sessionPersistence(stores?.persistence ?? (memoryPersistence as unknown as () => object)(), isCommandTopic)
    this.connectRate = limits.connectRatePerIp > 0 ? new ConnectionRate(limits.connectRatePerIp, shared.connectRate) : null
    this.listeners = new MqttListeners((stream, req) => this.handle(stream, req), backend, limits.maxPacketBytes)
    this.aedes = new Aedes({
      persistence: this.session.persistence as never,
      ...(stores === null ? {} : { mq: stores.mq as never }),
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
        const refused = checkConnect(packet, certificateIdentityOf(client.conn)?.id)
        if (refused !== null) this.refusals.set(client, refused)
        this.connects.set(client, packet)
        callback(null, true)
      },
      authenticate: (client, username, password, callback) => { this.authenticate(client, username, password, callback) },
      authorizePublish: (client, packet, callback) => { this.publishes.authorize(client, packet, callback) },
      authorizeSubscribe: (client, sub, callback) => { this.subscriptions.authorizeSubscribe(client, sub, callback) },
      authorizeForward: (client, packet) => this.subscriptions.authorizeForward(client, packet)
    })
    // The Redis store can fail where no client hears of it: reported, never an uncaught 'error'.
    if (stores !== null) (this.aedes as unknown as NodeJS.EventEmitter).on('error', stores.onError)
    const sessionOf = (client: Client): Session | undefined => this.sessions.get(client)
    this.publishes = new PublishAdmission(this.aedes, backend, limits, sessionOf)
    this.subscriptions = new SubscriptionRules(backend, limits, sessionOf)
    this.aedes.on('clientReady', (client) => {
      const session = this.sessions.get(client)
      if (session === undefined) return
      if (!client.clean) this.session.markSession(client.id)
      this.current.set(session.device.id, client)
      if (session.gateway === undefined) backend.connected(session.device)
      // A resumed persistent session holds its subscriptions again (restored through authorizeSubscribe).
      if (holdsCommands(session)) this.commandsReady(session, client)
    })
    this.aedes.on('subscribe', (subscriptions, client) => {
      const session = client === null ? undefined : this.sessions.get(client)
      if (session !== undefined && subscriptions.some((sub) => (sub.qos as number) !== 0x80 && isCommandFilter(sub.topic))) this.commandsReady(session, client)
    })
    this.aedes.on('clientDisconnect', (client) => {
      const moved = this.movedAway.delete(client)
      const session = this.sessions.get(client)
      if (session === undefined || this.current.get(session.device.id) !== client) return
      this.current.delete(session.device.id)
      const gateway = session.gateway
      if (gateway === undefined) { backend.disconnected(session.device, client, moved); return }
      // The bridge went: the devices that were online through it are offline.
      for (const id of gateway.online) backend.disconnected(gateway.device(id), client)
      for (const id of gateway.ready) if (!gateway.online.has(id)) backend.commandsGone(gateway.device(id), client)
    })
  }

  static async create (backend: BrokerBackend, limits: BrokerLimits, shared: SharedBrokerState = { stores: null, connectRate: null }): Promise<HubBroker> {
    const broker = new HubBroker(backend, limits, shared)
    // Aedes closes a client whose id connected to another process (its handler, registered by listen(),
    // runs after this one): the close that follows is a move, not the device going offline.
    const aedes = broker.aedes as unknown as { clients: Record<string, Client | undefined> }
    broker.aedes.subscribe('$SYS/+/new/clients', (packet, done) => {
      const client = aedes.clients[Buffer.from(packet.payload).toString()]
      if (client !== undefined && packet.topic.split('/')[1] !== broker.aedes.id) broker.movedAway.add(client)
      done()
    }, () => {})
    await broker.aedes.listen()
    return broker
  }

  get connectedClients (): number { return this.aedes.connectedClients }

  /** Open MQTT sockets right now. */
  get openConnections (): number { return this.sockets }

  /** Hands a raw connection to Aedes through the per-address connection rate and the stream guard. */
  handle (stream: Duplex, req?: IncomingMessage): void {
    const address = req?.socket.remoteAddress ?? (stream as { remoteAddress?: string }).remoteAddress
    const verdict = this.connectRate === null || address === undefined ? true : this.connectRate.admit(address)
    // [RELIABILITY 5] a storm from one address past this process's budget: closed before Aedes or any
    // allocation of its own, and before any Redis round trip.
    if (verdict === false) { this.refuseRate(stream, address); return }
    this.sockets++
    let counted = true
    const uncount = (): void => { if (counted) { counted = false; this.sockets-- } }
    stream.once('close', uncount)
    if (stream.destroyed) uncount()
    if (verdict === true) { this.serve(stream, req); return }
    // The shared budget decides (at most SHARED_TIMEOUT_MS, broker/address-rate.ts). Meanwhile nothing
    // reads the socket (what the device sends stays in it, for Aedes), and its errors are heard here; a
    // socket closed meanwhile, or by the broker's close, is not served.
    const ignore = (): void => {}
    stream.on('error', ignore)
    this.awaitingRate.add(stream)
    verdict.then((admitted) => {
      this.awaitingRate.delete(stream)
      stream.off('error', ignore)
      if (stream.destroyed) return
      if (admitted) this.serve(stream, req)
      else this.refuseRate(stream, address)
    }, () => {}) // never rejects (ConnectionRate)
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

  listenTcp (host: string, port: number): Promise<number> {
    return this.listeners.listenTcp(host, port)
  }

  /** MQTT over TLS. With `clientCertificates`, client certificates are requested but not required: one
   * TLS did not authorize, or a revoked one, closes the socket before MQTT; an admitted one authenticates
   * its device (CN) at CONNECT; without one, the device authenticates with its id and secret. */
  listenTls (host: string, port: number, credentials: { cert: Buffer, key: Buffer }, clientCertificates?: ClientCertificateGate): Promise<number> {
    return this.listeners.listenTls(host, port, credentials, clientCertificates)
  }

  /** MQTT over WebSocket at `path` on the HTTP server. */
  attachWebSocket (http: HttpServer, path = '/mqtt'): void {
    this.listeners.attachWebSocket(http, path)
  }

  async close (): Promise<void> {
    this.connectRate?.close()
    this.listeners.close()
    for (const stream of this.awaitingRate) stream.destroy()
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
    await this.stores?.close()
  }

  /** Closes a connection over its address's rate (`hub_mqtt_stream_rejections_total{reason="connect-rate"}`). */
  private refuseRate (stream: Duplex, address: string | undefined): void {
    this.backend.guardRejected({ code: 'connect-rate', detail: `more than ${this.limits.connectRatePerIp} new connections/s from ${address ?? 'an unknown address'}` })
    stream.destroy()
  }

  /** The stream guard in front, then Aedes. */
  private serve (stream: Duplex, req?: IncomingMessage): void {
    const guarded = guardStream(stream, this.limits, (rejection) => this.backend.guardRejected(rejection))
    const client = this.aedes.handle(guarded, req)
    interceptInbound(client, (packet) => this.subscriptions.inbound(client, packet))
  }

  /** Commands can reach the session's device, or for a gateway every device of its site. */
  private commandsReady (session: Session, client: Client): void {
    const gateway = session.gateway
    if (gateway === undefined) { this.backend.commandsReady(session.device, client); return }
    for (const id of gateway.siteDeviceIds) {
      gateway.ready.add(id)
      this.backend.commandsReady(gateway.device(id), client)
    }
  }

  /** A site gateway's credentials, tried when they are no device's. */
  private async authenticateGateway (client: Client, secret: string): Promise<AuthenticatedDevice | null> {
    const gateway = await this.backend.authenticateGateway(client.id, secret)
    return gateway === null ? null : await this.startGateway(client, gateway)
  }

  /** A site gateway by its client certificate (checkConnect has matched its CN to the client id): the
   * hub's table says whether it is still valid; a refusal is audited here, with the gateway's tenant. */
  private async authenticateGatewayCertificate (client: Client, certificate: CertificateIdentity): Promise<AuthenticatedDevice | Refused> {
    const verdict = await this.backend.authenticateGatewayCertificate(certificate.id, certificate.serial)
    if (verdict.ok && certificate.invalid === undefined) return await this.startGateway(client, verdict.gateway)
    // The table's reason first (revoked, expired, disabled); else the validity the gate found wrong.
    const [reason, tenantId] = verdict.ok ? [certificate.invalid as string, verdict.gateway.tenantId] : [verdict.reason, verdict.tenantId]
    this.backend.denied(tenantId === null ? null : { id: certificate.id, tenantId }, 'connect', reason, `client certificate ${certificate.serial} of gateway ${certificate.id}: ${reason}`)
    return REFUSED
  }

  /** The session state of an authenticated gateway: whom it may act for, read now. */
  private async startGateway (client: Client, gateway: AuthenticatedGateway): Promise<AuthenticatedDevice> {
    const session = new GatewaySession(gateway, (tenantId, site) => this.backend.siteDevices(tenantId, site), { perSecond: this.limits.publishRatePerDevice, burst: this.limits.publishBurst })
    await session.refresh()
    this.gateways.set(client, session)
    return { id: gateway.id, tenantId: gateway.tenantId }
  }

  private authenticate (client: Client, _username: string | undefined, password: Buffer | undefined, callback: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void): void {
    const refused = this.refusals.get(client)
    if (refused !== undefined) {
      this.backend.denied(null, 'connect', refused.reason, `${refused.reason} (client id ${JSON.stringify(client.id).slice(0, 80)})`)
      callback(refusal(refused.returnCode, refused.reason), false)
      return
    }
    // On TLS an admitted client certificate is the credential (checkConnect has matched its CN to the
    // client id); its device or gateway must still hold it unrevoked and be enabled.
    const certificate = certificateIdentityOf(client.conn)
    const secret = certificate === null ? (password as Buffer).toString('utf8') : ''
    const authenticated: Promise<AuthenticatedDevice | Refused | null> = certificate === null
      ? this.backend.authenticate(client.id, secret).then(async (device) => device ?? await this.authenticateGateway(client, secret))
      : certificate.kind === 'gateway'
        ? this.authenticateGatewayCertificate(client, certificate)
        : this.backend.authenticateCertificate(certificate.id, certificate.serial)
    const connect = this.connects.get(client)
    if (connect !== undefined) { connect.password = undefined; this.connects.delete(client) }
    authenticated.then((device) => {
      if (device === REFUSED) {
        callback(refusal(ReturnCode.NotAuthorized, 'not authorized'), false)
        return
      }
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
      const gateway = this.gateways.get(client)
      this.gateways.delete(client)
      this.sessions.set(client, { device, bucket: gateway === undefined ? bucket : null, ...(gateway === undefined ? {} : { gateway }), held: new Set(), qos2: new Set(), refused: false } satisfies Session)
      callback(null, true)
    }, () => {
      // [RELIABILITY 18] the database is down: refuse, never accept unauthenticated.
      callback(refusal(ReturnCode.ServerUnavailable, 'server unavailable'), false)
    })
  }
}
