import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import type { HubEvent } from '../../protocol/events.ts'

/** Fan-out of committed events to every SSE stream of every hub instance. At-most-once by design: a
 * dashboard that misses events resynchronises from the database. */
export interface EventBus {
  publish (event: HubEvent): void
  subscribe (listener: (event: HubEvent) => void): () => void
  /** Called when events of other instances may have been missed (Redis was unreachable and is back):
   * whoever keeps state from the events catches up from the database (SSE streams resync, command
   * delivery looks at its devices' queues again). Never called with a single instance. */
  onResync (listener: () => void): () => void
  close (): Promise<void>
}

/** Single instance: an in-process emitter. */
export class LocalEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0)

  publish (event: HubEvent): void {
    this.emitter.emit('event', event)
  }

  subscribe (listener: (event: HubEvent) => void): () => void {
    this.emitter.on('event', listener)
    return () => { this.emitter.off('event', listener) }
  }

  onResync (listener: () => void): () => void {
    this.emitter.on('resync', listener)
    return () => { this.emitter.off('resync', listener) }
  }

  /** Tells the resync listeners (RedisEventBus). */
  resync (): void {
    this.emitter.emit('resync')
  }

  async close (): Promise<void> {
    this.emitter.removeAllListeners()
  }
}

const CHANNEL = 'euicc-hub:events'

/** One message on the channel: the publishing instance and the event. */
interface Envelope { o: string, e: HubEvent }

/** Several instances: Redis pub/sub. An event goes to this instance's listeners at once and to the
 * others through Redis (each skips its own). Publishing never throws or blocks ingest; a Redis outage
 * only loses the other instances' live events, and once the subscriber is back `onResync` listeners
 * catch up. */
export class RedisEventBus implements EventBus {
  private readonly local = new LocalEventBus()
  private readonly origin = randomUUID()
  /** The subscriber lost its connection since it last subscribed: messages may have been missed. */
  private lost = false

  constructor (private readonly publisher: Redis, private readonly subscriber: Redis, private readonly onError: (err: Error) => void) {}

  async start (): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== CHANNEL) return
      try {
        const envelope = JSON.parse(message) as Envelope
        if (envelope.o !== this.origin) this.local.publish(envelope.e)
      } catch (err) {
        this.onError(err as Error)
      }
    })
    this.subscriber.on('close', () => { this.lost = true })
    // ioredis subscribes again on its own when it reconnects; the SUBSCRIBE here (a no-op twice) is
    // answered once the channel is held again, so what the resync reads is not missed either.
    this.subscriber.on('ready', () => {
      if (!this.lost) return
      this.lost = false
      this.subscriber.subscribe(CHANNEL).then(() => { this.local.resync() }, (err: Error) => {
        this.lost = true
        this.onError(err)
      })
    })
    await this.subscriber.subscribe(CHANNEL)
  }

  publish (event: HubEvent): void {
    this.local.publish(event)
    this.publisher.publish(CHANNEL, JSON.stringify({ o: this.origin, e: event } satisfies Envelope)).catch(this.onError)
  }

  subscribe (listener: (event: HubEvent) => void): () => void {
    return this.local.subscribe(listener)
  }

  onResync (listener: () => void): () => void {
    return this.local.onResync(listener)
  }

  async close (): Promise<void> {
    await this.local.close()
  }
}
