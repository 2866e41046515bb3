// New connections per second per source address (`HUB_CONNECT_RATE_PER_IP`, RELIABILITY 5), decided
// before a socket reaches the stream guard or Aedes (docs/broker.md "Rates and floods"). One process: its
// own token bucket per address. Several (docs/scale-out.md): the same bucket kept in Redis
// (broker/redis-address-rate.ts), so an address gets the limit once in total, not once per process; this
// process's bucket is still asked first, so a storm past it costs no round trip.

/** A token bucket per address, with a burst of one second's worth. Buckets that have refilled are
 * forgotten, so a scan from many addresses holds memory only while it lasts. */
export class AddressRateLimit {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  private readonly sweeper: NodeJS.Timeout

  constructor (private readonly perSecond: number) {
    this.sweeper = setInterval(() => this.sweep(), 10_000).unref()
  }

  /** Takes one connection from the address's budget; false when there is none left. */
  take (address: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(address)
    if (bucket === undefined) {
      this.buckets.set(address, { tokens: this.perSecond - 1, at: now })
      return true
    }
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + (now - bucket.at) * this.perSecond / 1000)
    bucket.at = now
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  close (): void {
    clearInterval(this.sweeper)
  }

  private sweep (now = Date.now()): void {
    for (const [address, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perSecond / 1000 >= this.perSecond) this.buckets.delete(address)
    }
  }
}

/** The bucket of each address shared by every hub process (broker/redis-address-rate.ts). */
export interface SharedAddressRate {
  /** Takes one connection from the address's shared bucket of `perSecond` (burst of one second's worth);
   * false when it is empty. May reject or not answer: ConnectionRate bounds it. */
  take (address: string, perSecond: number): Promise<boolean>
  /** Told once per outage (not per connection) that the shared bucket could not be asked. */
  onUnavailable (err: Error): void
}

/** A shared bucket that has not answered in this time is unavailable (as attempt-counters' Redis timeout). */
const SHARED_TIMEOUT_MS = 1000
/** After the shared bucket failed, connections are decided here alone for this long before it is asked again. */
const SHARED_RETRY_MS = 1000

/** The per-address connection rate of one process: its own bucket, then the shared one when there is one.
 * Redis unreachable or slow: this process's bucket decides alone (each process then admits up to the
 * limit), within SHARED_TIMEOUT_MS, never an error; the shared bucket is asked again SHARED_RETRY_MS after
 * a failure, and `onUnavailable` hears of an outage once, when it starts. */
export class ConnectionRate {
  private readonly local: AddressRateLimit
  private retryAt = 0
  private unavailable = false

  constructor (private readonly perSecond: number, private readonly shared: SharedAddressRate | null) {
    this.local = new AddressRateLimit(perSecond)
  }

  /** The verdict on a new connection from `address`: at once when this process's bucket refuses it or
   * decides alone, else a promise of the shared bucket's, which never rejects. */
  admit (address: string): boolean | Promise<boolean> {
    if (!this.local.take(address)) return false
    if (this.shared === null || Date.now() < this.retryAt) return true
    return this.askShared(this.shared, address)
  }

  close (): void {
    this.local.close()
  }

  private async askShared (shared: SharedAddressRate, address: string): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${SHARED_TIMEOUT_MS} ms`)), SHARED_TIMEOUT_MS)
    })
    try {
      const admitted = await Promise.race([shared.take(address, this.perSecond), late])
      this.unavailable = false
      return admitted
    } catch (err) {
      this.retryAt = Date.now() + SHARED_RETRY_MS
      if (!this.unavailable) {
        this.unavailable = true
        shared.onUnavailable(err instanceof Error ? err : new Error(String(err)))
      }
      return true // this process's bucket admitted it
    } finally {
      clearTimeout(timer)
    }
  }
}
