import { asc, eq, gt, sql } from 'drizzle-orm'
import type { Database } from '../db/database.ts'
import { auditHead, auditLog, type AuditRow } from '../db/schema/index.ts'
import { canonicalJson, chainHash, GENESIS_HASH } from './audit-chain.ts'

export type AuditActorType = 'user' | 'device' | 'api-key' | 'system'
export type AuditOutcome = 'success' | 'failure' | 'denied'

export interface AuditEntry {
  tenantId: string | null
  actorType: AuditActorType
  actorId: string | null
  action: string
  target?: string | null
  outcome?: AuditOutcome
  detail?: Record<string, unknown>
  ip?: string | null
}

export type AuditVerification = { ok: true, rows: number } | { ok: false, firstBrokenId: number, reason: string }

interface Pending { entry: AuditEntry, at: Date, resolve: () => void, reject: (err: unknown) => void }

/** Rows per append transaction when many entries are waiting (a flood of denied MQTT actions). */
const MAX_BATCH = 500
const VERIFY_PAGE = 2000
const MAX_TEXT = 2000

/** The hash-chained audit log. Appends are queued and written by one writer at a time in this process;
 * each write transaction locks the chain's head row (`select … for update`), so appends from several
 * processes serialize too and the chain never forks. `append` resolves once the row is committed. */
export class AuditLog {
  private queue: Pending[] = []
  private writing: Promise<void> | null = null

  constructor (private readonly database: Database) {}

  append (entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, at: new Date(), resolve, reject })
      this.writing ??= this.drain()
    })
  }

  /** Resolves when everything appended so far is written (or failed). */
  async flush (): Promise<void> {
    while (this.writing !== null) await this.writing
  }

  private async drain (): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH)
        try {
          await this.write(batch)
          for (const p of batch) p.resolve()
        } catch (err) {
          for (const p of batch) p.reject(err)
        }
      }
    } finally {
      this.writing = null
    }
  }

  private async write (batch: Pending[]): Promise<void> {
    await this.database.db.transaction(async (tx) => {
      await tx.insert(auditHead).values({ id: 1, lastId: 0, lastHash: GENESIS_HASH }).onConflictDoNothing()
      const [head] = await tx.select().from(auditHead).where(eq(auditHead.id, 1)).for('update')
      let { lastId, lastHash } = head
      const rows: AuditRow[] = []
      for (const { entry, at } of batch) {
        const content = {
          id: lastId + 1,
          at,
          tenantId: entry.tenantId,
          actorType: entry.actorType,
          actorId: clip(entry.actorId),
          action: clip(entry.action) as string,
          target: clip(entry.target ?? null),
          outcome: entry.outcome ?? 'success',
          detail: canonicalJson(entry.detail ?? {}),
          ip: clip(entry.ip ?? null)
        }
        const hash = chainHash(lastHash, content)
        rows.push({ ...content, prevHash: lastHash, hash })
        lastId = content.id
        lastHash = hash
      }
      await tx.insert(auditLog).values(rows)
      await tx.update(auditHead).set({ lastId, lastHash }).where(eq(auditHead.id, 1))
    })
  }

  /** Walks the whole chain in id order and names the first row that does not fit: edited (its hash does
   * not match its content), deleted (a gap in the ids, or a `prevHash` that is not the previous row's
   * hash), or the tail cut off (the head names a later row than the last one found). */
  async verify (): Promise<AuditVerification> {
    const db = this.database.db
    let expectedId = 1
    let prevHash = GENESIS_HASH
    let rows = 0
    for (;;) {
      const page = await db.select().from(auditLog).where(gt(auditLog.id, expectedId - 1)).orderBy(asc(auditLog.id)).limit(VERIFY_PAGE)
      for (const row of page) {
        if (row.id !== expectedId) return { ok: false, firstBrokenId: row.id, reason: `rows ${expectedId}…${row.id - 1} are missing (deleted)` }
        if (row.prevHash !== prevHash) return { ok: false, firstBrokenId: row.id, reason: 'prevHash does not match the previous row (a row was deleted or replaced)' }
        if (chainHash(prevHash, row) !== row.hash) return { ok: false, firstBrokenId: row.id, reason: 'the row does not match its hash (edited)' }
        prevHash = row.hash
        expectedId++
        rows++
      }
      if (page.length < VERIFY_PAGE) break
    }
    const [head] = await db.select().from(auditHead).where(eq(auditHead.id, 1))
    const lastId = head?.lastId ?? 0
    if (lastId !== rows || (head !== undefined && head.lastHash !== prevHash)) {
      return { ok: false, firstBrokenId: rows + 1, reason: `the chain head records row ${lastId} but the log ends at row ${rows} (rows deleted from the end, or the head was edited)` }
    }
    return { ok: true, rows }
  }

  /** Newest first, optionally for one tenant (null: every tenant, for platform admins). */
  async list (query: { tenantId: string | null, beforeId?: number, limit: number, action?: string }): Promise<AuditRow[]> {
    const where = [
      query.tenantId === null ? undefined : eq(auditLog.tenantId, query.tenantId),
      query.beforeId === undefined ? undefined : sql`${auditLog.id} < ${query.beforeId}`,
      query.action === undefined ? undefined : eq(auditLog.action, query.action)
    ].filter((c) => c !== undefined)
    return await this.database.db.select().from(auditLog)
      .where(where.length === 0 ? undefined : sql.join(where, sql` and `))
      .orderBy(sql`${auditLog.id} desc`).limit(query.limit)
  }
}

function clip (value: string | null): string | null {
  return value === null || value.length <= MAX_TEXT ? value : value.slice(0, MAX_TEXT)
}
