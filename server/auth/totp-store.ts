import { createHash, randomBytes } from 'node:crypto'
import { and, eq, isNotNull, lt, sql } from 'drizzle-orm'
import { Secret, TOTP } from 'otpauth'
import QRCode from 'qrcode'
import type { Database } from '../db/database.ts'
import { totpSecrets } from '../db/schema/index.ts'

const ISSUER = 'euicc-hub'
const PERIOD = 30
const RECOVERY_CODES = 10

const hashCode = (code: string) => createHash('sha256').update(code.replace(/[\s-]/g, '').toLowerCase()).digest('hex')
const totpFor = (secret: string, label: string) =>
  new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secret) })

export type TotpCheck = 'ok' | 'invalid' | 'reused'

/** TOTP (RFC 6238): SHA-1, 6 digits, 30 s, at most one step of drift either way, each step usable once
 * (the last accepted step is stored and only later steps pass, with a conditional update, so two
 * concurrent sign-ins cannot both use one code). Recovery codes are single-use and kept hashed. */
export class TotpStore {
  constructor (private readonly database: Database) {}

  private get db () { return this.database.db }

  async enabled (userId: string): Promise<boolean> {
    const [row] = await this.db.select({ userId: totpSecrets.userId }).from(totpSecrets)
      .where(and(eq(totpSecrets.userId, userId), isNotNull(totpSecrets.confirmedAt)))
    return row !== undefined
  }

  /** Starts (or restarts) enrolment: a new secret that is required at sign-in once confirmed. */
  async enroll (userId: string, label: string): Promise<{ secret: string, otpauthUrl: string, qrCode: string }> {
    if (await this.enabled(userId)) throw Object.assign(new Error('TOTP is already enabled'), { code: 'enabled' })
    const secret = new Secret({ size: 20 }).base32
    await this.db.insert(totpSecrets).values({ userId, secret }).onConflictDoUpdate({ target: totpSecrets.userId, set: { secret, lastStep: 0, recoveryCodes: [] } })
    const otpauthUrl = totpFor(secret, label).toString()
    return { secret, otpauthUrl, qrCode: await QRCode.toDataURL(otpauthUrl, { errorCorrectionLevel: 'M', margin: 1 }) }
  }

  /** Confirms enrolment with a first code; returns the recovery codes (shown once). */
  async confirm (userId: string, code: string): Promise<string[] | null> {
    const [row] = await this.db.select().from(totpSecrets).where(eq(totpSecrets.userId, userId))
    if (row === undefined || row.confirmedAt !== null) return null
    if (await this.useCode(userId, row.secret, code) !== 'ok') return null
    const codes = Array.from({ length: RECOVERY_CODES }, () => {
      const raw = randomBytes(5).toString('hex')
      return `${raw.slice(0, 5)}-${raw.slice(5)}`
    })
    await this.db.update(totpSecrets).set({ confirmedAt: new Date(), recoveryCodes: codes.map(hashCode) }).where(eq(totpSecrets.userId, userId))
    return codes
  }

  /** Checks a sign-in code (6 digits) or a recovery code (`xxxxx-xxxxx`) for a user with TOTP enabled. */
  async check (userId: string, code: string): Promise<TotpCheck> {
    const [row] = await this.db.select().from(totpSecrets).where(and(eq(totpSecrets.userId, userId), isNotNull(totpSecrets.confirmedAt)))
    if (row === undefined) return 'invalid'
    if (/^\d{6}$/.test(code)) return await this.useCode(userId, row.secret, code)
    const hashed = hashCode(code)
    if (!row.recoveryCodes.includes(hashed)) return 'invalid'
    const used = await this.db.update(totpSecrets).set({ recoveryCodes: sql`array_remove(${totpSecrets.recoveryCodes}, ${hashed})` })
      .where(and(eq(totpSecrets.userId, userId), sql`${hashed} = any(${totpSecrets.recoveryCodes})`)).returning({ userId: totpSecrets.userId })
    return used.length > 0 ? 'ok' : 'reused'
  }

  async disable (userId: string): Promise<void> {
    await this.db.delete(totpSecrets).where(eq(totpSecrets.userId, userId))
  }

  private async useCode (userId: string, secret: string, code: string): Promise<TotpCheck> {
    if (!/^\d{6}$/.test(code)) return 'invalid'
    const now = Date.now()
    const delta = totpFor(secret, userId).validate({ token: code, timestamp: now, window: 1 })
    if (delta === null) return 'invalid'
    const step = Math.floor(now / 1000 / PERIOD) + delta
    const claimed = await this.db.update(totpSecrets).set({ lastStep: step })
      .where(and(eq(totpSecrets.userId, userId), lt(totpSecrets.lastStep, step))).returning({ userId: totpSecrets.userId })
    return claimed.length > 0 ? 'ok' : 'reused'
  }
}
