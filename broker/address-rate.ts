/** New connections per second per source address (`HUB_CONNECT_RATE_PER_IP`): a token bucket per
 * address, with a burst of one second's worth. Buckets that have refilled are forgotten, so a scan
 * from many addresses holds memory only while it lasts. */
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
