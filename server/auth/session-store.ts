import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { and, eq, gt, isNotNull, isNull } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { refreshTokens } from '../db/schema/index.ts'
import { ACCESS_TOKEN_TTL_SECONDS } from './access-token.ts'
import type { RevocationList } from './revocation-list.ts'

/** A refresh token is valid this long after it is issued (each refresh issues a new one)… */
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 3600
/** …and a session (token family) at most this long after the sign-in that started it. */
export const SESSION_MAX_SECONDS = 30 * 24 * 3600

export type RotateResult =
  | { kind: 'ok', userId: string, familyId: string, token: string }
  | { kind: 'invalid' }
  | { kind: 'reused', userId: string, familyId: string }

const hash = (secret: string) => createHash('sha256').update(secret).digest()

/** Sessions: refresh-token families, rotated on every use with reuse detection. Revoking a session also
 * puts its id on the revocation list, so the access tokens it issued (which carry it as `sid`) stop
 * working at once. */
export class SessionStore {
  constructor (private readonly database: Database, private readonly revocations: RevocationList) {}

  private get db () { return this.database.db }

  /** Starts a session at sign-in; returns its id and first refresh token. */
  async start (userId: string): Promise<{ familyId: string, token: string }> {
    const familyId = randomUUID()
    const token = await this.issue(userId, familyId, new Date())
    return { familyId, token }
  }

  private async issue (userId: string, familyId: string, familyCreatedAt: Date): Promise<string> {
    const id = randomUUID()
    const secret = randomBytes(32).toString('base64url')
    const expiresAt = new Date(Math.min(Date.now() + REFRESH_TOKEN_TTL_SECONDS * 1000, familyCreatedAt.getTime() + SESSION_MAX_SECONDS * 1000))
    await this.db.insert(refreshTokens).values({ id, familyId, userId, tokenHash: hash(secret).toString('hex'), expiresAt, familyCreatedAt })
    return `${id}.${secret}`
  }

  /** Trades a refresh token for the next one. A token presented a second time (or two refreshes racing
   * with one token) revokes the whole family. */
  async rotate (token: string): Promise<RotateResult> {
    const [id, secret] = token.split('.')
    if (id === undefined || secret === undefined || !/^[0-9a-f-]{36}$/.test(id)) return { kind: 'invalid' }
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.id, id))
    if (row === undefined || !timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), hash(secret))) return { kind: 'invalid' }
    if (row.revokedAt !== null) return { kind: 'invalid' }
    if (row.usedAt !== null) {
      await this.revokeFamilies([row.familyId])
      return { kind: 'reused', userId: row.userId, familyId: row.familyId }
    }
    if (row.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' }
    const claimed = await this.db.update(refreshTokens).set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.id, id), isNull(refreshTokens.usedAt), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id })
    if (claimed.length === 0) {
      await this.revokeFamilies([row.familyId])
      return { kind: 'reused', userId: row.userId, familyId: row.familyId }
    }
    const next = await this.issue(row.userId, row.familyId, row.familyCreatedAt)
    // A racing refresh with the same token may have revoked the family between the claim and the issue:
    // whichever way the two interleave, either that revocation covers the new token or this check sees it.
    const [revoked] = await this.db.select({ id: refreshTokens.id }).from(refreshTokens)
      .where(and(eq(refreshTokens.familyId, row.familyId), isNotNull(refreshTokens.revokedAt))).limit(1)
    if (revoked !== undefined) {
      await this.revokeFamilies([row.familyId])
      return { kind: 'reused', userId: row.userId, familyId: row.familyId }
    }
    return { kind: 'ok', userId: row.userId, familyId: row.familyId, token: next }
  }

  /** The session a refresh token belongs to (for logout), without using it. */
  async familyOf (token: string): Promise<{ familyId: string, userId: string } | null> {
    const [id, secret] = token.split('.')
    if (id === undefined || secret === undefined || !/^[0-9a-f-]{36}$/.test(id)) return null
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.id, id))
    if (row === undefined || !timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), hash(secret))) return null
    return { familyId: row.familyId, userId: row.userId }
  }

  async revokeFamilies (familyIds: readonly string[]): Promise<void> {
    if (familyIds.length === 0) return
    await this.revocations.revoke(familyIds, ACCESS_TOKEN_TTL_SECONDS + 60)
    for (const familyId of familyIds) {
      await this.db.update(refreshTokens).set({ revokedAt: new Date() }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)))
    }
  }

  /** Ends every session of a user (disabled, role changed): returns how many were live. */
  async revokeUser (userId: string): Promise<number> {
    const live = await this.db.selectDistinct({ familyId: refreshTokens.familyId }).from(refreshTokens)
      .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt), gt(refreshTokens.familyCreatedAt, new Date(Date.now() - SESSION_MAX_SECONDS * 1000))))
    await this.revokeFamilies(live.map((r) => r.familyId))
    return live.length
  }
}
