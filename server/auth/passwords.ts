import argon2 from 'argon2'

/** OWASP's argon2id parameters: 19 MiB, 2 iterations, 1 lane. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const
/** Longer inputs are refused before hashing, so a 1 MB password cannot cost more than a normal one. */
export const MAX_PASSWORD_LENGTH = 256
export const MIN_PASSWORD_LENGTH = 12
/** At most this many hashes run at once; the rest wait their turn (bounded CPU and memory). */
const MAX_CONCURRENT_HASHES = 4

let running = 0
const waiting: Array<() => void> = []
/** How many hashes ran at once at most since the last reset (for the concurrency-bound test). */
export const hashConcurrency = { peak: 0, limit: MAX_CONCURRENT_HASHES, reset () { this.peak = running } }

async function bounded<T> (work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  if (running > hashConcurrency.peak) hashConcurrency.peak = running
  try {
    return await work()
  } finally {
    running--
    waiting.shift()?.()
  }
}

export function hashPassword (password: string): Promise<string> {
  if (password.length > MAX_PASSWORD_LENGTH) throw new RangeError('password too long')
  return bounded(() => argon2.hash(password, OPTIONS))
}

/** A hash of a random password, verified against when the account does not exist so that unknown
 * accounts and wrong passwords take the same time. */
let dummyHash: Promise<string> | null = null

/** How many passwords were checked against a hash in this process (for the tests of the login limits:
 * "at most the threshold are evaluated"). */
export const passwordVerifications = { count: 0 }

export async function verifyPassword (hash: string | null, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false
  passwordVerifications.count++
  dummyHash ??= hashPassword('dummy-password-for-timing')
  const target = hash ?? await dummyHash
  const ok = await bounded(() => argon2.verify(target, password))
  return ok && hash !== null
}
