import type { Redis } from 'ioredis'

/** One atomic check-and-reserve of a sign-in (or TOTP) attempt, before the secret is checked:
 * `rate` is counted whatever happens; then, when no limit is reached, each limit key gets one more. So N
 * attempts in parallel see each other's reservations and at most `max` of them go on. */
export interface Reservation {
  /** Counted on every call (its window starts at its first hit); past `max` the attempt is refused. */
  rate?: { key: string, max: number, windowSeconds: number }
  /** Refused when one of these counts is at its `max` (a limit with `unless`: only while that key's count
   * is 0); otherwise each of them gets one more, with a window of `windowSeconds` from its first hit. */
  limits: ReadonlyArray<{ key: string, max: number, unless?: string }>
  windowSeconds: number
}

export type ReserveResult = 'reserved' | 'rate-limited' | 'locked'

/** Fixed-window counters for login abuse limits. In Redis when present (shared by every process), in
 * memory otherwise. Redis errors reject, and the login route turns them into a 503: never unlimited. */
export interface AttemptCounters {
  /** Atomically checks the limits and reserves the attempt (see Reservation). */
  reserve (reservation: Reservation): Promise<ReserveResult>
  /** Gives back one reservation on each key (never below 0; an expired key stays absent). */
  release (keys: readonly string[]): Promise<void>
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

/** KEYS: rate key (or a placeholder), the n limit keys, then n "unless" keys (the limit key itself when
 * there is none). ARGV: hasRate, rateMax, rateWindow, window, n, then per limit: max, hasUnless.
 * Returns 1 reserved, 0 rate-limited, -1 locked. Runs atomically in Redis. */
const RESERVE_SCRIPT = `
local function bump (key, window)
  local n = redis.call('INCR', key)
  if n == 1 or redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, window) end
  return n
end
local n = tonumber(ARGV[5])
if ARGV[1] == '1' then
  if bump(KEYS[1], tonumber(ARGV[3])) > tonumber(ARGV[2]) then return 0 end
end
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[1 + i]) or '0')
  local max = tonumber(ARGV[4 + 2 * i])
  if count >= max then
    local exempt = false
    if ARGV[5 + 2 * i] == '1' then exempt = tonumber(redis.call('GET', KEYS[1 + n + i]) or '0') > 0 end
    if not exempt then return -1 end
  end
end
for i = 1, n do bump(KEYS[1 + i], tonumber(ARGV[4])) end
return 1
`

/** Decrements each existing key above 0, keeping its expiry. */
const RELEASE_SCRIPT = `
for i = 1, #KEYS do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v > 0 then redis.call('DECR', KEYS[i]) end
end
return 1
`

export class RedisAttemptCounters implements AttemptCounters {
  private readonly prefix: (k: string) => string

  /** `namespace` separates hub deployments (databases) that share one Redis. */
  constructor (private readonly redis: Redis, namespace: string) {
    this.prefix = (k) => `euicc-hub:${namespace}:attempts:${k}`
  }

  private ready (): void {
    if (this.redis.status !== 'ready') throw new Error('redis is not connected')
  }

  async reserve (r: Reservation): Promise<ReserveResult> {
    this.ready()
    const limitKeys = r.limits.map((l) => this.prefix(l.key))
    const keys = [r.rate === undefined ? limitKeys[0] ?? this.prefix('none') : this.prefix(r.rate.key), ...limitKeys, ...r.limits.map((l) => this.prefix(l.unless ?? l.key))]
    const args = [r.rate === undefined ? '0' : '1', String(r.rate?.max ?? 0), String(r.rate?.windowSeconds ?? 1), String(r.windowSeconds), String(r.limits.length)]
    for (const l of r.limits) args.push(String(l.max), l.unless === undefined ? '0' : '1')
    const result = Number(await timed(this.redis.eval(RESERVE_SCRIPT, keys.length, ...keys, ...args)))
    return result === 1 ? 'reserved' : result === 0 ? 'rate-limited' : 'locked'
  }

  async release (keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    this.ready()
    await timed(this.redis.eval(RELEASE_SCRIPT, keys.length, ...keys.map(this.prefix)))
  }

  async hit (keys: readonly string[], windowSeconds: number): Promise<number[]> {
    this.ready()
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
    this.ready()
    const values = await timed(this.redis.mget(...keys.map(this.prefix)))
    return values.map((v) => v === null ? 0 : Number(v))
  }

  async reset (keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await timed(this.redis.del(...keys.map(this.prefix)))
  }
}

/** One process: every method does its checks and changes synchronously (no await in between), so
 * attempts racing on the event loop cannot both pass a check the first one would have failed. */
export class MemoryAttemptCounters implements AttemptCounters {
  private readonly counts = new Map<string, { n: number, until: number }>()

  private current (key: string, now: number): number {
    const c = this.counts.get(key)
    return c === undefined || c.until <= now ? 0 : c.n
  }

  private bump (key: string, windowSeconds: number, now: number): number {
    let c = this.counts.get(key)
    if (c === undefined || c.until <= now) {
      c = { n: 0, until: now + windowSeconds * 1000 }
      this.counts.set(key, c)
    }
    return ++c.n
  }

  private sweep (now: number): void {
    if (this.counts.size > 100_000) for (const [k, c] of this.counts) if (c.until <= now) this.counts.delete(k)
  }

  async reserve (r: Reservation): Promise<ReserveResult> {
    const now = Date.now()
    this.sweep(now)
    if (r.rate !== undefined && this.bump(r.rate.key, r.rate.windowSeconds, now) > r.rate.max) return 'rate-limited'
    const locked = r.limits.some((l) => this.current(l.key, now) >= l.max && (l.unless === undefined || this.current(l.unless, now) === 0))
    if (locked) return 'locked'
    for (const l of r.limits) this.bump(l.key, r.windowSeconds, now)
    return 'reserved'
  }

  async release (keys: readonly string[]): Promise<void> {
    const now = Date.now()
    for (const k of keys) {
      const c = this.counts.get(k)
      if (c !== undefined && c.until > now && c.n > 0) c.n--
    }
  }

  async hit (keys: readonly string[], windowSeconds: number): Promise<number[]> {
    const now = Date.now()
    this.sweep(now)
    return keys.map((k) => this.bump(k, windowSeconds, now))
  }

  async get (keys: readonly string[]): Promise<number[]> {
    const now = Date.now()
    return keys.map((k) => this.current(k, now))
  }

  async reset (keys: readonly string[]): Promise<void> {
    for (const k of keys) this.counts.delete(k)
  }
}
