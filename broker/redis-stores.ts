// What Aedes shares with the other hub processes when REDIS_URL is set (docs/scale-out.md): its message
// routing (mqemitter-redis: a takeover of a client id on another process closes the old connection, a
// dead process's Wills are published by a live one) and its sessions (aedes-persistence-redis:
// subscriptions, QoS 1 messages queued or in flight for a session, QoS 2 messages not yet released).
// Commands are not among them: the hub delivers those itself from the process the device is on
// (broker/session-persistence.ts, server/commands/command-delivery.ts).
import { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'
import redisPersistence from 'aedes-persistence-redis'

/** The message router and session store Aedes gets, and how to release them after Aedes has closed. */
export interface BrokerStores {
  mq: object
  persistence: object
  /** After `aedes.close()` (which closes the router): the session store's connection. */
  close (): Promise<void>
  /** Where Aedes reports a failure of the store it cannot hand to a client (a Will, an offline queue). */
  onError: (err: Error) => void
}

type Listener = (packet: object, done: () => void) => void

interface Emitter {
  emit (packet: object, done?: (err?: Error) => void): void
  /** mqemitter's own in-process emit, which mqemitter-redis keeps under this name. */
  _emit (packet: object, done?: (err?: Error) => void): void
  on (topic: string, listener: Listener, done?: () => void): Emitter
  _on (topic: string, listener: Listener): Emitter
  removeListener (topic: string, listener: Listener, done?: () => void): Emitter
  _removeListener (topic: string, listener: Listener): Emitter
  close (done: () => void): void
  _close (done: () => void): void
  closing: boolean
  /** mqemitter-redis reports its connections' errors here (an 'error' nobody hears would throw). */
  state: { on (event: 'error', listener: (err: Error) => void): void }
}

interface StorePart {
  storeRetained (packet: object): Promise<void>
  outgoingClearMessageId (client: object, packet: object): Promise<unknown>
  addSubscriptions (client: { id: string }, subs: object[]): Promise<unknown>
  removeSubscriptions (client: { id: string }, subs: string[]): Promise<unknown>
}

/** Runs each client's work one at a time, in the order asked. */
function perClient (): <T>(clientId: string, work: () => Promise<T>) => Promise<T> {
  const chains = new Map<string, Promise<unknown>>()
  return (clientId, work) => {
    const result = (chains.get(clientId) ?? Promise.resolve()).then(work, work)
    const tail = result.then(() => {}, () => {})
    chains.set(clientId, tail)
    tail.then(() => { if (chains.get(clientId) === tail) chains.delete(clientId) }, () => {})
    return result
  }
}

function connection (url: string, name: string, waitForRedis: boolean, keyPrefix?: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    ...(keyPrefix === undefined ? {} : { keyPrefix }),
    lazyConnect: true,
    // The subscriber keeps its SUBSCRIBEs until Redis is back (they are this process's routes); the
    // others fail at once, so a Redis outage never holds a PUBACK or a publish.
    enableOfflineQueue: waitForRedis,
    maxRetriesPerRequest: waitForRedis ? null : 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000)
  })
  redis.on('error', () => {}) // reported by the commands that fail; reconnects on its own
  return redis
}

/** The topics other hub processes must hear: Aedes' own broker-to-broker messages under `$SYS/` (a
 * client id's new connection, which closes it elsewhere; heartbeats and births, by which a live process
 * publishes a dead one's Wills; the session store's subscription broadcasts). Nothing else needs another
 * process: a device may subscribe only to its own downlink (commands, acks), which the process holding
 * it (or its site's gateway) publishes, and what devices send is taken in where it arrives (the bus
 * carries the events). So the rest never touches Redis: mqemitter-redis would PSUBSCRIBE a pattern per
 * device subscription, and Redis matches every PUBLISH against every pattern, which held a 20,000-device
 * fleet on two processes to 174 acknowledged messages/s (a PUBACK waits for the PUBLISH's answer); with
 * 20,000 patterns this Redis answered 168 PUBLISH/s against 9,300 with none (docs/scale-out.md). */
export const sharedTopic = (topic: string): boolean => topic.startsWith('$SYS/')

/** Subscriptions to topics no other process publishes are this process's alone: not in Redis. */
function routeSharedTopicsOnly (mq: Emitter): void {
  const redisOn = mq.on.bind(mq)
  const redisOff = mq.removeListener.bind(mq)
  const later = (done?: () => void): void => { if (done !== undefined) setImmediate(done) }
  mq.on = (topic, listener, done) => {
    if (sharedTopic(topic)) return redisOn(topic, listener, done)
    mq._on(topic, listener)
    later(done)
    return mq
  }
  mq.removeListener = (topic, listener, done) => {
    if (sharedTopic(topic)) return redisOff(topic, listener, done)
    mq._removeListener(topic, listener)
    later(done)
    return mq
  }
}

/**
 * Opens the Redis router and session store. While Redis is down:
 * - a publish goes to this process's subscribers only (the hub's are all local: commands are sent from
 *   the process holding the device), never failing the device's publish, which would close it;
 * - storing a retained status and clearing an acknowledged message id are reported, not fatal: the
 *   message was committed (docs/ingest.md) and acknowledged already; a QoS 1 message Aedes still holds
 *   for the session is then sent once more, with DUP=1, which the receiver handles once;
 * - a CONNECT or SUBSCRIBE that needs the session store fails, and the device retries: a session is
 *   never half-created.
 * A client's (un)subscriptions are stored one at a time, in order (see `serial`).
 */
export async function redisStores (url: string, namespace: string, onError: (err: Error) => void): Promise<BrokerStores> {
  // Every key and channel is under the installation's namespace: hubs on other databases may share the
  // Redis, and must not close each other's clients or load each other's sessions.
  const prefix = `euicc-hub:${namespace}:mqtt:`
  const subConn = connection(url, 'euicc-hub-mqtt-sub', true)
  const pubConn = connection(url, 'euicc-hub-mqtt-pub', false)
  const storeConn = connection(url, 'euicc-hub-mqtt-sessions', false, prefix)
  try {
    await Promise.all([subConn.connect(), pubConn.connect(), storeConn.connect()])
  } catch (err) {
    for (const c of [subConn, pubConn, storeConn]) c.disconnect()
    throw err
  }
  const { MQEmitterRedisPrefix } = mqemitterRedis as unknown as { MQEmitterRedisPrefix: unknown }
  const mq = new (MQEmitterRedisPrefix as new (prefix: string, opts: object) => Emitter)(prefix, { subConn, pubConn })
  mq.state.on('error', onError)
  routeSharedTopicsOnly(mq)
  const viaRedis = mq.emit.bind(mq)
  mq.emit = (packet, done) => {
    if (!sharedTopic((packet as { topic: string }).topic)) { mq._emit(packet, done); return }
    viaRedis(packet, (err) => {
      if (err === undefined || err === null) { done?.(); return }
      onError(err)
      mq._emit({ ...packet, topic: prefix + (packet as { topic: string }).topic }, done) // as if it came back from Redis
    })
  }
  // Closed at once, also while Redis is down (mqemitter-redis's own close waits for QUIT answers).
  mq.close = (done) => {
    mq.closing = true
    subConn.disconnect()
    pubConn.disconnect()
    mq._close(done)
  }
  const store = (redisPersistence as unknown as (opts: object) => StorePart)({ conn: storeConn })
  // aedes-persistence-redis waits for its own broadcast of a (un)subscription keyed by client and topic:
  // two SUBSCRIBEs of one topic in one read (RELIABILITY 49) would overwrite the first's wait, and that
  // SUBACK never came. One at a time per client.
  const serial = perClient()
  const tolerant: Partial<StorePart> = {
    addSubscriptions: async (client, subs) => await serial(client.id, () => store.addSubscriptions(client, subs)),
    removeSubscriptions: async (client, subs) => await serial(client.id, () => store.removeSubscriptions(client, subs)),
    storeRetained: async (packet) => { await store.storeRetained(packet).catch(onError) },
    outgoingClearMessageId: async (client, packet) => await store.outgoingClearMessageId(client, packet).catch((err: Error) => { onError(err); return undefined })
  }
  const persistence = new Proxy(store, {
    get (target, key) {
      if (typeof key === 'string' && key in tolerant) return tolerant[key as keyof StorePart]
      const value = Reflect.get(target, key)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return {
    mq,
    persistence,
    close: async () => { storeConn.disconnect() },
    onError
  }
}
