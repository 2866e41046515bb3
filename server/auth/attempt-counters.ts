import type { Redis } from 'ioredis'

/** Fixed-window counters for login abuse limits. In Redis when present (shared by every process), in
 * memory otherwise. Redis errors reject, and the login route turns them into a 503: never unlimited. */
export interface AttemptCounters {
  /** Adds one to each key (its window starts at its first hit) and returns the new counts. */
  hit (keys: readonly string[], windowSeconds: number): Promise<number[]>
  /** Current counts (0 for an absent or expired key). */
  get (keys: readonly string[]): Promise<number[]>
  reset (keys: readonly string[]): Promise<void>
}

/** A Redis command that has not answered in this time counts as Redis being down. */
const REDIS_TIMEOUT_MS = 1000

function timed<T> (work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('redis did not answer in time')), REDIS_TIMEOUT_MS)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

export class RedisAttemptCounters implements AttemptCounters {
  private readonly prefix: (k: string) => string

  /** `namespace` separates hub deployments (databases) that share one Redis. */
  constructor (private readonly redis: Redis, namespace: string) {
    this.prefix = (k) => `euicc-hub:${namespace}:attempts:${k}`
  }

  async hit (keys: readonly string[], windowSeconds: number): Promise<number[]> {
    if (this.redis.status !== 'ready') throw new Error('redis is not connected')
    const multi = this.redis.multi()
    for (const k of keys) multi.incr(this.prefix(k)).expire(this.prefix(k), windowSeconds, 'NX')
    const results = await timed(multi.exec())
    if (results === null) throw new Error('redis transaction aborted')
    return keys.map((_k, i) => {
      const [err, value] = results[i * 2]
      if (err !== null) throw err
      return Number(value)
    })
  }

  async get (keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return []
    if (this.redis.status !== 'ready') throw new Error('redis is not connected')
    const values = await timed(this.redis.mget(...keys.map(this.prefix)))
    return values.map((v) => v === null ? 0 : Number(v))
  }

  async reset (keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await timed(this.redis.del(...keys.map(this.prefix)))
  }
}

export class MemoryAttemptCounters implements AttemptCounters {
  private readonly counts = new Map<string, { n: number, until: number }>()

  async hit (keys: readonly string[], windowSeconds: number): Promise<number[]> {
    const now = Date.now()
    if (this.counts.size > 100_000) for (const [k, c] of this.counts) if (c.until <= now) this.counts.delete(k)
    return keys.map((k) => {
      let c = this.counts.get(k)
      if (c === undefined || c.until <= now) {
        c = { n: 0, until: now + windowSeconds * 1000 }
        this.counts.set(k, c)
      }
      return ++c.n
    })
  }

  async get (keys: readonly string[]): Promise<number[]> {
    const now = Date.now()
    return keys.map((k) => {
      const c = this.counts.get(k)
      return c === undefined || c.until <= now ? 0 : c.n
    })
  }

  async reset (keys: readonly string[]): Promise<void> {
    for (const k of keys) this.counts.delete(k)
  }
}
