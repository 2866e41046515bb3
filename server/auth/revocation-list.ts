import type { Redis } from 'ioredis'

/** Ids (session ids, revoked API keys' ids) whose access tokens and event streams must be refused from
 * now on, each kept as long as a token or an open stream could still rely on it. In Redis when present, so every hub process sees a revocation at
 * once; in memory otherwise (a single process). A Redis failure rejects: the caller fails closed. */
export interface RevocationList {
  revoke (ids: readonly string[], ttlSeconds: number): Promise<void>
  anyRevoked (ids: readonly string[]): Promise<boolean>
}

export class RedisRevocationList implements RevocationList {
  private readonly key: (id: string) => string

  /** `namespace` separates hub deployments (databases) that share one Redis. */
  constructor (private readonly redis: Redis, namespace: string) {
    this.key = (id) => `euicc-hub:${namespace}:revoked:${id}`
  }

  async revoke (ids: readonly string[], ttlSeconds: number): Promise<void> {
    if (ids.length === 0) return
    const multi = this.redis.multi()
    for (const id of ids) multi.set(this.key(id), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)))
    await multi.exec()
  }

  async anyRevoked (ids: readonly string[]): Promise<boolean> {
    if (ids.length === 0) return false
    return await this.redis.exists(...ids.map(this.key)) > 0
  }
}

export class MemoryRevocationList implements RevocationList {
  private readonly revoked = new Map<string, number>()

  async revoke (ids: readonly string[], ttlSeconds: number): Promise<void> {
    const now = Date.now()
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id)
    for (const id of ids) this.revoked.set(id, now + ttlSeconds * 1000)
  }

  async anyRevoked (ids: readonly string[]): Promise<boolean> {
    const now = Date.now()
    return ids.some((id) => (this.revoked.get(id) ?? 0) > now)
  }
}
