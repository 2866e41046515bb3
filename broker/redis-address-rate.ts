// The per-address connection rate's bucket shared by every hub process when REDIS_URL is set
// (broker/address-rate.ts, docs/scale-out.md): one Redis hash per source address, taken from atomically.
import type { Redis } from 'ioredis'
import type { SharedAddressRate } from './address-rate.ts'

/** A token bucket, as each process's own (broker/address-rate.ts): `perSecond` tokens at most (a burst
 * of one second's worth), refilled at `perSecond` a second on Redis' clock (one clock for every host).
 * KEYS: the address's hash {tokens, at (ms)}. ARGV: perSecond. Returns 1 taken, 0 empty. A bucket full
 * again (1 s after its last take) is the same as none: the key expires then. Runs atomically in Redis. */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = rate
if bucket[1] and bucket[2] then
  tokens = math.min(rate, tonumber(bucket[1]) + math.max(0, now - tonumber(bucket[2])) * rate / 1000)
end
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 1000)
return taken
`

export class RedisAddressRate implements SharedAddressRate {
  private readonly key: (address: string) => string

  /** `redis`: a connection that fails at once while Redis is down (server/bus/redis-connection.ts);
   * `namespace` separates hub deployments (databases) that share one Redis. */
  constructor (private readonly redis: Redis, namespace: string, readonly onUnavailable: (err: Error) => void) {
    this.key = (address) => `euicc-hub:${namespace}:connect-rate:${address}`
  }

  async take (address: string, perSecond: number): Promise<boolean> {
    if (this.redis.status !== 'ready') throw new Error('redis is not connected')
    return Number(await this.redis.eval(TAKE_SCRIPT, 1, this.key(address), perSecond)) === 1
  }
}
