import type { AttemptCounters } from './attempt-counters.ts'

/** Login abuse limits (docs/identity.md "Login limits"). Counters are keyed by the submitted email, known
 * or not, so an unknown account behaves exactly like a real one. */
export const loginLimits = {
  /** Attempts per address per minute, successful or not. */
  addressRate: { max: 30, windowSeconds: 60 },
  /** Failures of one account from one address: that pair is locked for the rest of the window. */
  pairFailures: { max: 5, windowSeconds: 15 * 60 },
  /** Failures from one address over all accounts (password spraying). */
  addressFailures: { max: 30, windowSeconds: 15 * 60 },
  /** Failures of one account over all addresses. Past this only addresses the account has signed in from
   * before may try, so a distributed attack cannot lock the owner out. */
  accountFailures: { max: 50, windowSeconds: 15 * 60 },
  /** How long a successful sign-in makes an address "known" for the account. */
  knownAddressSeconds: 30 * 24 * 3600,
  /** Wrong TOTP codes per account (the password was right): further codes are refused. */
  totpFailures: { max: 10, windowSeconds: 15 * 60 }
}

export type LoginGate = { allowed: true } | { allowed: false, retryAfterSeconds: number }

export class LoginGuard {
  constructor (private readonly counters: AttemptCounters) {}

  private keys (email: string, ip: string) {
    const account = email.trim().toLowerCase()
    return {
      rate: `rate:${ip}`,
      pair: `pair:${account}:${ip}`,
      address: `addr:${ip}`,
      account: `acct:${account}`,
      known: `known:${account}:${ip}`,
      totp: `totp:${account}`
    }
  }

  /** Counts the attempt and says whether it may proceed. Rejects when the counter store is down. */
  async admit (email: string, ip: string): Promise<LoginGate> {
    const k = this.keys(email, ip)
    const [rate] = await this.counters.hit([k.rate], loginLimits.addressRate.windowSeconds)
    if (rate > loginLimits.addressRate.max) return { allowed: false, retryAfterSeconds: loginLimits.addressRate.windowSeconds }
    const [pair, address, account, known] = await this.counters.get([k.pair, k.address, k.account, k.known])
    const locked = pair >= loginLimits.pairFailures.max ||
      address >= loginLimits.addressFailures.max ||
      (account >= loginLimits.accountFailures.max && known === 0)
    return locked ? { allowed: false, retryAfterSeconds: loginLimits.pairFailures.windowSeconds } : { allowed: true }
  }

  async failed (email: string, ip: string): Promise<void> {
    const k = this.keys(email, ip)
    await this.counters.hit([k.pair, k.address, k.account], loginLimits.pairFailures.windowSeconds)
  }

  async succeeded (email: string, ip: string): Promise<void> {
    const k = this.keys(email, ip)
    await this.counters.reset([k.pair])
    await this.counters.hit([k.known], loginLimits.knownAddressSeconds)
  }

  /** Whether more TOTP codes may be tried for this account. */
  async totpAllowed (email: string): Promise<boolean> {
    const [n] = await this.counters.get([this.keys(email, '').totp])
    return n < loginLimits.totpFailures.max
  }

  async totpFailed (email: string): Promise<void> {
    await this.counters.hit([this.keys(email, '').totp], loginLimits.totpFailures.windowSeconds)
  }
}
