/** A token bucket per device: `ratePerSecond` sustained, `burst` at once. Tokens are reserved ahead, so a
 * publish over the rate learns how long to wait instead of polling. */
export class TokenBucket {
  private tokens: number
  private updated = Date.now()

  constructor (private readonly ratePerSecond: number, private readonly burst: number) {
    this.tokens = burst
  }

  /** Reserves one token; returns the milliseconds until it is really available (0: now). */
  reserve (): number {
    const now = Date.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.ratePerSecond / 1000)
    this.updated = now
    this.tokens -= 1
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens * 1000 / this.ratePerSecond)
  }
}
