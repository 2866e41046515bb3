import { Redis } from 'ioredis'

/** Opens an ioredis connection that fails fast instead of queueing commands while Redis is down,
 * so a Redis outage never stalls ingest. */
export async function connectRedis (url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000)
  })
  redis.on('error', () => {}) // reported by the commands that fail; reconnects on its own
  await redis.connect()
  return redis
}
