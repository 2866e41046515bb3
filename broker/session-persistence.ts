import type { Readable } from 'node:stream'

/** The part of an Aedes persistence (aedes-persistence, aedes-persistence-redis) the hub changes. */
interface Persistence {
  outgoingEnqueue (sub: { clientId: string }, packet: { topic: string }): Promise<void>
  outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: { topic: string }): Promise<void>
  outgoingUpdate (client: { id: string }, packet: { topic: string }): Promise<void>
  outgoingStream (client: { id: string }): Readable
  subscriptionsByClient (client: { id: string }): Promise<Array<{ topic: string, qos: number }>>
  cleanSubscriptions (client: { id: string }): Promise<unknown>
}

/** The filter Aedes is handed for a persistent session that holds no subscription the hub granted, so
 * that Aedes answers session-present=1 [MQTT-3.2.2-2]; `authorizeSubscribe` refuses it silently on
 * restore, so it never becomes a subscription. */
export const SESSION_MARKER_TOPIC = '$hub/session'

export interface SessionPersistence {
  /** The persistence to give Aedes. */
  readonly persistence: unknown
  /** A client connected with clean=0: its session exists from now on, until a clean=1 CONNECT ends it. */
  markSession (clientId: string): void
}

/**
 * Wraps Aedes's session store with two rules of the hub's (docs/broker.md "Sessions"):
 * - Commands are the hub's: their durable queue is the `commands` table, and the command service alone
 *   decides when one goes out (once per connection; a redelivery carries DUP=1). So Aedes never queues
 *   a command for an offline session nor keeps an in-flight one to replay on reconnect: two owners
 *   delivered every command twice, under different packet ids.
 * - A persistent session is present on resume even when every subscription it asked for was refused.
 * What Aedes still replays of a session (notification acks in flight) is sent with DUP=1.
 */
export function sessionPersistence (inner: object, isHubOwned: (topic: string) => boolean): SessionPersistence {
  const store = inner as Persistence
  const sessions = new Set<string>()
  const overrides: Partial<Persistence> = {
    outgoingEnqueue: async (sub, packet) => { if (!isHubOwned(packet.topic)) await store.outgoingEnqueue(sub, packet) },
    outgoingEnqueueCombi: async (subs, packet) => { if (!isHubOwned(packet.topic)) await store.outgoingEnqueueCombi(subs, packet) },
    outgoingUpdate: async (client, packet) => { if (!isHubOwned(packet.topic)) await store.outgoingUpdate(client, packet) },
    outgoingStream: (client) => store.outgoingStream(client).map((packet: { messageId?: number, dup?: boolean }) => {
      // A packet with a message id was sent before: its redelivery is a duplicate [MQTT-3.3.1-1].
      if (packet.messageId !== undefined && packet.messageId !== null) packet.dup = true
      return packet
    }),
    subscriptionsByClient: async (client) => {
      const subs = await store.subscriptionsByClient(client)
      return subs.length === 0 && sessions.has(client.id) ? [{ topic: SESSION_MARKER_TOPIC, qos: 0 }] : subs
    },
    cleanSubscriptions: async (client) => {
      sessions.delete(client.id)
      return await store.cleanSubscriptions(client)
    }
  }
  const persistence = new Proxy(inner, {
    get (target, key) {
      if (typeof key === 'string' && key in overrides) return overrides[key as keyof Persistence]
      const value = Reflect.get(target, key)
      // Methods run on the store itself (it keeps private fields), not on the proxy.
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return { persistence, markSession: (clientId) => { sessions.add(clientId) } }
}
