// The broker's subscription and delivery rules: what a device may subscribe to (its own command and ack
// topics, up to the held-subscription limit, granted at most QoS 1, one SUBACK return code per filter as
// sent), what its UNSUBSCRIBE and PUBREL release, and what Aedes may forward to it (only what the hub
// sends it).
import mqttPacket from 'mqtt-packet'
import type { AedesPublishPacket, Client, Subscription } from 'aedes'
import { isAllowedDeviceSubscription } from '../protocol/topics.ts'
import type { BrokerBackend, BrokerLimits } from './broker-contract.ts'
import type { Session } from './device-session.ts'
import type { InboundPacket } from './inbound-packets.ts'
import { SESSION_MARKER_TOPIC } from './session-persistence.ts'

/** What a site gateway may subscribe to with a wildcard: its site's devices' commands and acks (what it
 * then receives is filtered per device in authorizeForward). */
const GATEWAY_FILTERS: ReadonlySet<string> = new Set(['devices/+/commands/#', 'devices/+/commands/+', 'devices/+/notifications/ack'])

export class SubscriptionRules {
  constructor (
    private readonly backend: BrokerBackend,
    private readonly limits: BrokerLimits,
    private readonly sessionOf: (client: Client) => Session | undefined
  ) {}

  /** Sees each packet a client sends before Aedes does; false keeps it from Aedes. */
  inbound (client: Client, packet: InboundPacket): boolean {
    const session = this.sessionOf(client)
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

  /** Aedes' `authorizeSubscribe`: a refused filter is granted 0x80 and audited. */
  authorizeSubscribe (client: Client, sub: Subscription, callback: (err: Error | null, sub?: Subscription | null) => void): void {
    const session = this.sessionOf(client)
    // The marker of a persistent session without subscriptions (broker/session-persistence.ts).
    if (sub.topic === SESSION_MARKER_TOPIC) { callback(null, null); return }
    const permitted = session !== undefined && (session.gateway === undefined
      ? isAllowedDeviceSubscription(session.device.id, sub.topic)
      : GATEWAY_FILTERS.has(sub.topic) || session.gateway.siteDeviceIds.some((id) => isAllowedDeviceSubscription(id, sub.topic)))
    const allowed = permitted && (session.held.has(sub.topic) || session.held.size < this.limits.maxSubscriptionsPerDevice)
    if (!allowed) {
      this.backend.denied(session?.device ?? null, 'subscribe', permitted ? 'subscription-limit' : 'topic', `subscribe to ${JSON.stringify(sub.topic).slice(0, 300)}`)
      callback(null, null) // SUBACK 0x80
      return
    }
    session.held.add(sub.topic)
    callback(null, { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 })
  }

  /** [RELIABILITY 30] Aedes' `authorizeForward`, re-checked at delivery: a device only ever receives what
   * the hub sends it (its commands and notification acks), never another device's topics nor its own
   * publishes back. */
  authorizeForward (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = this.sessionOf(client)
    if (session === undefined) return null
    const levels = packet.topic.split('/')
    if (levels[0] !== 'devices') return null
    // A gateway receives what the hub sends to the devices of its site; a device only its own.
    const forUs = session.gateway === undefined ? levels[1] === session.device.id : session.gateway.knows(levels[1])
    if (!forUs) return null
    const hubToDevice = (levels.length === 4 && levels[2] === 'notifications' && levels[3] === 'ack') || (levels.length === 4 && levels[2] === 'commands')
    return hubToDevice ? packet : null
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
}
