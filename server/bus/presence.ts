import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'

interface LocalPresence { tenantId: string, since: number, lastSeen: number, token: string }

/** A hash per tenant: device id → the token of the connection that holds it (instance and sequence). */
const onlineKey = (tenantId: string) => `euicc-hub:presence:${tenantId}`

/** Deletes the device's entry only if this connection still holds it (1), else leaves it (0): a session
 * that moved to another process is not marked offline by the old one's close. */
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`

/** Who is connected, and when each device was last heard from. Kept in memory per message (no database
 * write per message); `lastSeen` is flushed to the database in one statement every few seconds by the
 * owner of `drainLastSeen`. With Redis, the set of online devices is shared by every instance. */
export class Presence {
  private readonly local = new Map<string, LocalPresence>()
  private readonly dirty = new Map<string, number>()
  private readonly instance = randomUUID()
  private sequence = 0

  constructor (private readonly redis: Redis | null = null, private readonly onError: (err: Error) => void = () => {}) {}

  connected (deviceId: string, tenantId: string): void {
    const now = Date.now()
    const token = `${this.instance}:${++this.sequence}`
    this.local.set(deviceId, { tenantId, since: now, lastSeen: now, token })
    this.dirty.set(deviceId, now)
    this.redis?.hset(onlineKey(tenantId), deviceId, token).catch(this.onError)
  }

  /** The device's connection here closed (`moved`: taken over on another process, which now holds the
   * device). `offline` is called when it is offline everywhere: at once
   * without Redis; with Redis once the shared entry is released, and not at all when a connection on
   * another process holds the device now (a session that moved). Redis unreachable: offline. */
  disconnected (deviceId: string, moved: boolean, offline: () => void = () => {}): void {
    const entry = this.local.get(deviceId)
    if (entry === undefined) { if (!moved) offline(); return }
    this.local.delete(deviceId)
    this.dirty.set(deviceId, entry.lastSeen)
    if (moved) return // the process it moved to holds its entry (or is about to write it)
    if (this.redis === null) { offline(); return }
    this.release(this.redis, deviceId, entry).then((released) => { if (released) offline() }, (err: Error) => {
      this.onError(err)
      offline()
    })
  }

  private async release (redis: Redis, deviceId: string, entry: LocalPresence): Promise<boolean> {
    return Number(await redis.eval(RELEASE_SCRIPT, 1, onlineKey(entry.tenantId), deviceId, entry.token)) === 1
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

  /** Writes this process's devices into Redis again (after an outage, which may have emptied it). */
  async reassert (): Promise<void> {
    const redis = this.redis
    if (redis === null || this.local.size === 0) return
    const multi = redis.multi()
    for (const [id, entry] of this.local) multi.hset(onlineKey(entry.tenantId), id, entry.token)
    await multi.exec().catch(this.onError)
  }

  /** The subset of `deviceIds` online on any instance (this one alone when Redis is absent or down). */
  async onlineOf (tenantId: string, deviceIds: readonly string[]): Promise<Set<string>> {
    const online = new Set(deviceIds.filter((id) => this.local.has(id)))
    if (this.redis !== null && deviceIds.length > 0) {
      try {
        const holders = await this.redis.hmget(onlineKey(tenantId), ...deviceIds)
        holders.forEach((holder, i) => { if (holder !== null) online.add(deviceIds[i]) })
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
        return await this.redis.hkeys(onlineKey(tenantId))
      } catch (err) {
        this.onError(err as Error)
      }
    }
    return [...this.local].filter(([, entry]) => entry.tenantId === tenantId).map(([id]) => id)
  }

  async onlineCount (tenantId: string): Promise<number> {
    if (this.redis !== null) {
      try {
        return await this.redis.hlen(onlineKey(tenantId))
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
      await Promise.all([...this.local].map(([id, entry]) => this.release(redis, id, entry).catch(this.onError)))
    }
    this.local.clear()
  }
}
