// The broker's publish path, Aedes' `authorizePublish`: a device publishes only on its own topics (never
// retained but for status), a QoS 2 resend before PUBREL is not handled twice, the per-device rate holds a
// publish back or disconnects a flood, and the message is handed to the hub's durable ingest; the PUBACK
// waits for it (docs/ingest.md).
import type { Aedes, Client, PublishPacket } from 'aedes'
import { parseDevicePublishTopic, type DeviceTopic } from '../protocol/topics.ts'
import type { AuthenticatedDevice, BrokerBackend, BrokerLimits } from './broker-contract.ts'
import { holdsCommands, type Session } from './device-session.ts'
import type { GatewaySession } from './gateway-session.ts'
import type { TokenBucket } from './publish-rate.ts'

/** A device whose publishes would wait longer than this for the rate limit is disconnected. */
const MAX_RATE_WAIT_MS = 5000

type Callback = (err?: Error | null) => void

export class PublishAdmission {
  constructor (
    private readonly aedes: Aedes,
    private readonly backend: BrokerBackend,
    private readonly limits: BrokerLimits,
    private readonly sessionOf: (client: Client) => Session | undefined
  ) {}

  authorize (client: Client | null, packet: PublishPacket, callback: Callback): void {
    if (client === null) { callback(null); return } // the hub's own publishes (commands, acks)
    const session = this.sessionOf(client)
    if (session === undefined) { callback(new Error('not authenticated')); return }
    if (session.refused) { callback(new Error('connection closing')); return }
    if (session.gateway !== undefined) { this.authorizeForGateway(client, session, session.gateway, packet, callback); return }
    const topic = parseDevicePublishTopic(packet.topic)
    if (topic === null || topic.deviceId !== session.device.id || (packet.retain && topic.kind !== 'status')) {
      // [RELIABILITY 20, 25] outside the contract: close the connection and record it.
      session.refused = true
      this.backend.denied(session.device, 'publish', packet.retain ? 'retained-publish' : 'topic', `${packet.retain ? 'retained ' : ''}publish to ${JSON.stringify(packet.topic).slice(0, 300)}`)
      callback(new Error('publish not authorized'))
      return
    }
    this.backend.seen(session.device)
    this.once(client, session, session.device, session.bucket, topic, packet, callback, () => {
      // Far beyond its rate for long (a flood): the device is disconnected rather than queued.
      session.refused = true
      this.backend.denied(session.device, 'publish', 'publish-rate', `publish rate above ${this.limits.publishRatePerDevice}/s`)
      callback(new Error('publish rate exceeded'))
    })
  }

  /** A site gateway publishes for the devices of its site, each under the rules of a device connected
   * directly (topics, rate, quarantine). Anything else it forwards is acknowledged, dropped and audited,
   * never answered by a disconnect: a bridge resends on every reconnect, so one stray device would stall
   * the whole site. A device is online while its messages come through the gateway. */
  private authorizeForGateway (client: Client, session: Session, gateway: GatewaySession, packet: PublishPacket, callback: Callback): void {
    const drop = (reason: string, detail: string): void => {
      this.backend.denied(session.device, 'publish', reason, `gateway of site ${JSON.stringify(gateway.gateway.site)}: ${detail}`)
      callback(null)
    }
    const topic = parseDevicePublishTopic(packet.topic)
    if (topic === null || (packet.retain && topic.kind !== 'status')) {
      drop(packet.retain ? 'retained-publish' : 'topic', `${packet.retain ? 'retained ' : ''}publish to ${JSON.stringify(packet.topic).slice(0, 300)}`)
      return
    }
    gateway.mayActFor(topic.deviceId).then((may) => {
      if (!may) { drop('outside-site', `publish to ${JSON.stringify(packet.topic).slice(0, 300)} for a device outside its site`); return }
      const device = gateway.device(topic.deviceId)
      this.backend.seen(device)
      this.followPresence(client, session, gateway, device, topic, packet)
      this.once(client, session, device, gateway.bucket(device.id), topic, packet, callback, () => {
        drop('publish-rate', `publish rate of ${device.id} above ${this.limits.publishRatePerDevice}/s`)
      })
    }, (err: Error) => { callback(err) }) // the database is down: no PUBACK, the bridge sends it again
  }

  /** Online through the gateway from its first message; offline again when its status says so (its Will,
   * published by the site's broker) or when the gateway goes (broker/hub-broker.ts). */
  private followPresence (client: Client, session: Session, gateway: GatewaySession, device: AuthenticatedDevice, topic: DeviceTopic, packet: PublishPacket): void {
    if (topic.kind === 'status' && Buffer.from(packet.payload as Buffer).toString('utf8').trim().replace(/"/g, '') === 'offline') {
      if (gateway.online.delete(device.id)) this.backend.disconnected(device, client)
      return
    }
    if (gateway.online.has(device.id)) return
    gateway.online.add(device.id)
    this.backend.connected(device)
    if (holdsCommands(session) && !gateway.ready.has(device.id)) {
      gateway.ready.add(device.id)
      this.backend.commandsReady(device, client)
    }
  }

  /** QoS 2 handled once, then the rate, then the ingest. */
  private once (client: Client, session: Session, device: AuthenticatedDevice, bucket: TokenBucket | null, topic: DeviceTopic, packet: PublishPacket, callback: Callback, flood: () => void): void {
    if (packet.qos === 2) {
      // [MQTT-4.3.3-2] a QoS 2 resend before PUBREL is the same message: Aedes answers PUBREC again,
      // the hub does not handle it twice. Within a connection by id; across a resumed session by the
      // session's own store of unreleased messages.
      if (session.qos2.has(packet.messageId as number)) { callback(null); return }
      if (packet.dup) {
        const store = (this.aedes as unknown as { persistence: { incomingGetPacket (c: Client, p: PublishPacket): Promise<unknown> } }).persistence
        store.incomingGetPacket(client, packet).then(
          () => { callback(null) },
          () => { this.admit(session, device, bucket, topic, packet, callback, flood) })
        return
      }
    }
    this.admit(session, device, bucket, topic, packet, callback, flood)
  }

  private admit (session: Session, device: AuthenticatedDevice, bucket: TokenBucket | null, topic: DeviceTopic, packet: PublishPacket, callback: Callback, flood: () => void): void {
    if (packet.qos === 2) session.qos2.add(packet.messageId as number)
    const wait = bucket === null ? 0 : bucket.reserve()
    if (wait > MAX_RATE_WAIT_MS) { flood(); return }
    if (wait > 0) {
      // Over the rate: hold this publish (and its PUBACK). Aedes reads nothing more from the socket until
      // the packets of the current read are handled, so the device is slowed down by TCP itself.
      setTimeout(() => {
        if (session.refused) callback(new Error('connection closing'))
        else this.ingest(session, device, topic, packet, callback)
      }, wait)
      return
    }
    this.ingest(session, device, topic, packet, callback)
  }

  private ingest (session: Session, device: AuthenticatedDevice, topic: DeviceTopic, packet: PublishPacket, callback: Callback): void {
    this.backend.publish(device, topic, packet).then(() => callback(null), (err: Error) => {
      if (packet.qos === 2) session.qos2.delete(packet.messageId as number) // not handled: the resend is
      callback(err)
    })
  }
}
