import type { Redis } from 'ioredis'

interface LocalPresence { tenantId: string, since: number, lastSeen: number }

const onlineKey = (tenantId: string) => `euicc-hub:online:${tenantId}`

/** Who is connected, and when each device was last heard from. Kept in memory per message (no database
 * write per message); `lastSeen` is flushed to the database in one statement every few seconds by the
 * owner of `drainLastSeen`. With Redis, the set of online devices is shared by every instance. */
export class Presence {
  private readonly local = new Map<string, LocalPresence>()
  private readonly dirty = new Map<string, number>()

  constructor (private readonly redis: Redis | null = null, private readonly onError: (err: Error) => void = () => {}) {}

  connected (deviceId: string, tenantId: string): void {
    const now = Date.now()
    this.local.set(deviceId, { tenantId, since: now, lastSeen: now })
    this.dirty.set(deviceId, now)
    this.redis?.sadd(onlineKey(tenantId), deviceId).catch(this.onError)
  }

  disconnected (deviceId: string): void {
    const entry = this.local.get(deviceId)
    if (entry === undefined) return
    this.local.delete(deviceId)
    this.dirty.set(deviceId, entry.lastSeen)
    this.redis?.srem(onlineKey(entry.tenantId), deviceId).catch(this.onError)
  }

  seen (deviceId: string): void {
    const entry = this.local.get(deviceId)
    if (entry === undefined) return
    const now = Date.now()
    entry.lastSeen = now
    this.dirty.set(deviceId, now)
  }

  /** The last time this process heard from the device (not yet, or no longer, only in the table). */
  lastSeenHere (deviceId: string): number | undefined {
    return this.local.get(deviceId)?.lastSeen ?? this.dirty.get(deviceId)
  }

  /** The subset of `deviceIds` online on any instance (this one alone when Redis is absent or down). */
  async onlineOf (tenantId: string, deviceIds: readonly string[]): Promise<Set<string>> {
    const online = new Set(deviceIds.filter((id) => this.local.has(id)))
    if (this.redis !== null && deviceIds.length > 0) {
      try {
        const flags = await this.redis.smismember(onlineKey(tenantId), ...deviceIds)
        flags.forEach((flag, i) => { if (flag === 1) online.add(deviceIds[i]) })
      } catch (err) {
        this.onError(err as Error)
      }
    }
    return online
  }

  /** Every online device of a tenant. */
  async onlineIds (tenantId: string): Promise<string[]> {
    if (this.redis !== null) {
      try {
        return await this.redis.smembers(onlineKey(tenantId))
      } catch (err) {
        this.onError(err as Error)
      }
    }
    return [...this.local].filter(([, entry]) => entry.tenantId === tenantId).map(([id]) => id)
  }

  async onlineCount (tenantId: string): Promise<number> {
    if (this.redis !== null) {
      try {
        return await this.redis.scard(onlineKey(tenantId))
      } catch (err) {
        this.onError(err as Error)
      }
    }
    let count = 0
    for (const entry of this.local.values()) if (entry.tenantId === tenantId) count++
    return count
  }

  get localCount (): number {
    return this.local.size
  }

  /** Hands over the last-seen times collected since the previous call. */
  drainLastSeen (): Map<string, number> {
    const batch = new Map(this.dirty)
    this.dirty.clear()
    return batch
  }

  /** Forgets this instance's devices in Redis when it shuts down. */
  async close (): Promise<void> {
    if (this.redis !== null) {
      const redis = this.redis
      await Promise.all([...this.local].map(([id, entry]) => redis.srem(onlineKey(entry.tenantId), id).catch(this.onError)))
    }
    this.local.clear()
  }
}
