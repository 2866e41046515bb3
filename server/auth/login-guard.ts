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

/** Every sign-in reserves its attempt before the password is checked: the reservation counts as a
 * failure of the (account, address) pair, of the address and of the account, atomically with the check of
 * those limits (a Lua script in Redis, a synchronous step in memory). Parallel attempts therefore see each
 * other, and at most the threshold of them are ever evaluated. A success gives the reservation back
 * (`succeeded`); so does an answer that evaluated nothing the attacker could learn from (`release`). */
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

  /** Reserves the attempt and says whether it may proceed. Rejects when the counter store is down. */
  async admit (email: string, ip: string): Promise<LoginGate> {
    const k = this.keys(email, ip)
    const result = await this.counters.reserve({
      rate: { key: k.rate, max: loginLimits.addressRate.max, windowSeconds: loginLimits.addressRate.windowSeconds },
      limits: [
        { key: k.pair, max: loginLimits.pairFailures.max },
        { key: k.address, max: loginLimits.addressFailures.max },
        { key: k.account, max: loginLimits.accountFailures.max, unless: k.known }
      ],
      windowSeconds: loginLimits.pairFailures.windowSeconds
    })
    if (result === 'reserved') return { allowed: true }
    return { allowed: false, retryAfterSeconds: result === 'rate-limited' ? loginLimits.addressRate.windowSeconds : loginLimits.pairFailures.windowSeconds }
  }

  /** Gives back an admitted attempt that was not a failure (the TOTP code was missing). */
  async release (email: string, ip: string): Promise<void> {
    const k = this.keys(email, ip)
    await this.counters.release([k.pair, k.address, k.account])
  }

  async succeeded (email: string, ip: string): Promise<void> {
    const k = this.keys(email, ip)
    await this.counters.reset([k.pair])
    await this.counters.release([k.address, k.account])
    await this.counters.hit([k.known], loginLimits.knownAddressSeconds)
  }

  /** Reserves one TOTP try for this account (atomically, as `admit` does); false when none is left. */
  async totpAllowed (email: string): Promise<boolean> {
    const key = this.keys(email, '').totp
    return await this.counters.reserve({ limits: [{ key, max: loginLimits.totpFailures.max }], windowSeconds: loginLimits.totpFailures.windowSeconds }) === 'reserved'
  }

  /** The code was right: its reservation is given back. */
  async totpSucceeded (email: string): Promise<void> {
    await this.counters.release([this.keys(email, '').totp])
  }
}
