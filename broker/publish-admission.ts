// The broker's publish path, Aedes' `authorizePublish`: a device publishes only on its own topics (never
// retained but for status), a QoS 2 resend before PUBREL is not handled twice, the per-device rate holds a
// publish back or disconnects a flood, and the message is handed to the hub's durable ingest; the PUBACK
// waits for it (docs/ingest.md).
import type { Aedes, Client, PublishPacket } from 'aedes'
import { parseDevicePublishTopic, type DeviceTopic } from '../protocol/topics.ts'
import type { BrokerBackend, BrokerLimits } from './broker-contract.ts'
import type { Session } from './device-session.ts'

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
          () => { this.admit(session, topic, packet, callback) })
        return
      }
    }
    this.admit(session, topic, packet, callback)
  }

  private admit (session: Session, topic: DeviceTopic, packet: PublishPacket, callback: Callback): void {
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

  private ingest (session: Session, topic: DeviceTopic, packet: PublishPacket, callback: Callback): void {
    this.backend.publish(session.device, topic, packet).then(() => callback(null), (err: Error) => {
      if (packet.qos === 2) session.qos2.delete(packet.messageId as number) // not handled: the resend is
      callback(err)
    })
  }
}
