import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import type { HubEvent } from '../../protocol/events.ts'

/** Fan-out of committed events to every SSE stream of every hub instance. At-most-once by design: a
 * dashboard that misses events resynchronises from the database. */
export interface EventBus {
  publish (event: HubEvent): void
  subscribe (listener: (event: HubEvent) => void): () => void
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

  async close (): Promise<void> {
    this.emitter.removeAllListeners()
  }
}

const CHANNEL = 'euicc-hub:events'

/** Several instances: Redis pub/sub. Publishing never throws or blocks ingest; a Redis outage only
 * loses live events, which the dashboard recovers with a resync. */
export class RedisEventBus implements EventBus {
  private readonly local = new LocalEventBus()

  constructor (private readonly publisher: Redis, private readonly subscriber: Redis, private readonly onError: (err: Error) => void) {}

  async start (): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== CHANNEL) return
      try {
        this.local.publish(JSON.parse(message) as HubEvent)
      } catch (err) {
        this.onError(err as Error)
      }
    })
    await this.subscriber.subscribe(CHANNEL)
  }

  publish (event: HubEvent): void {
    this.publisher.publish(CHANNEL, JSON.stringify(event)).catch(this.onError)
  }

  subscribe (listener: (event: HubEvent) => void): () => void {
    return this.local.subscribe(listener)
  }

  async close (): Promise<void> {
    await this.local.close()
  }
}
