import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { and, desc, eq, isNull } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { apiKeys, type ApiKeyRow, type UserRole } from '../db/schema/index.ts'
import { errors } from '../errors.ts'
import type { RevocationList } from './revocation-list.ts'

export const API_KEY_PREFIX = 'hubk_'
export type PublicApiKey = Omit<ApiKeyRow, 'keyHash'>

const hash = (secret: string) => createHash('sha256').update(secret).digest()
const DUMMY = hash('not-a-key')
/** Keys are looked up on every request; the last-use time is written at most this often per key. */
const LAST_USED_WRITE_MS = 60_000
/** How long a revoked key stays on the revocation list. Requests check the database, so the list only
 * matters to what outlives one request: open event streams (checked every 2 s) and stream tickets (30 s). */
export const API_KEY_REVOCATION_TTL_SECONDS = 24 * 3600

/** Integration keys: `hubk_<id>_<secret>`, 256-bit secrets kept as SHA-256, checked on every request
 * (so a revocation takes effect at once), scoped to one tenant and role. */
export class ApiKeyStore {
  private readonly lastWrite = new Map<string, number>()

  constructor (private readonly database: Database, private readonly revocations: RevocationList) {}

  private get db () { return this.database.db }

  async create (input: { tenantId: string, name: string, role: UserRole, createdBy: string | null }): Promise<{ key: PublicApiKey, secret: string }> {
    const id = randomUUID()
    const secret = randomBytes(32).toString('base64url')
    const [row] = await this.db.insert(apiKeys).values({ id, ...input, keyHash: hash(secret).toString('hex') }).returning()
    const { keyHash: _, ...key } = row
    return { key, secret: `${API_KEY_PREFIX}${id}_${secret}` }
  }

  async list (tenantId: string): Promise<PublicApiKey[]> {
    const rows = await this.db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.createdAt))
    return rows.map(({ keyHash: _, ...key }) => key)
  }

  /** Revokes the key: its id goes on the revocation list first (so the event streams it opened end, on
   * every hub process; if the list cannot be written nothing changes and the caller gets a 503), then the
   * row is marked. */
  async revoke (tenantId: string, id: string): Promise<boolean> {
    const [live] = await this.db.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    if (live === undefined) return false
    await this.revocations.revoke([id], API_KEY_REVOCATION_TTL_SECONDS).catch((err: unknown) => {
      throw Object.assign(new errors.Unavailable(), { cause: err })
    })
    const rows = await this.db.update(apiKeys).set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id })
    return rows.length > 0
  }

  /** The key's scope when `presented` is a live key; null otherwise (same work either way). */
  async authenticate (presented: string): Promise<{ id: string, tenantId: string, role: UserRole } | null> {
    const match = /^hubk_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/.exec(presented)
    if (match === null) return null
    const [row] = await this.db.select().from(apiKeys).where(eq(apiKeys.id, match[1]))
    const ok = timingSafeEqual(row === undefined ? DUMMY : Buffer.from(row.keyHash, 'hex'), hash(match[2]))
    if (row === undefined || !ok || row.revokedAt !== null) return null
    const now = Date.now()
    if ((this.lastWrite.get(row.id) ?? 0) < now - LAST_USED_WRITE_MS) {
      this.lastWrite.set(row.id, now)
      this.db.update(apiKeys).set({ lastUsedAt: new Date(now) }).where(eq(apiKeys.id, row.id)).catch(() => {})
    }
    return { id: row.id, tenantId: row.tenantId, role: row.role }
  }
}
