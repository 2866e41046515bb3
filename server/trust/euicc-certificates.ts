import { createHash } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import type { Database, Db } from '../db/database.ts'
import { euiccCertificates } from '../db/schema/index.ts'
import { textArray } from '../db/sql-values.ts'
import type { Tx } from '../repositories/euicc-repository.ts'

/** An eUICC certificate the hub holds, with the EUM certificate that issued it (null: held without it,
 * which verifies nothing). */
export interface HeldCertificate { euiccDer: Buffer, eumDer: Buffer | null }

/** The eUICC certificates the hub holds, one per EID (`euicc_certificates`): registered with a device
 * (`POST /api/devices` with `euiccCertificate` and `eumCertificate`, verified by
 * `registered-certificate.ts`) or learned from an accepted notification. Read to verify what carries no
 * certificate of its own: installation results (the notification pipeline, which verifies the whole
 * chain again) and signed eUICC Package results (the command service). Nothing else touches the table. */
export class EuiccCertificates {
  /** `eid:sha256` of certificates this process has learned already: a busy eUICC costs no write. */
  private readonly learned = new Set<string>()

  constructor (private readonly database: Database) {}

  /** Holds a device's registered certificates (replacing what was held for that EID). */
  async register (eid: string, euiccDer: Uint8Array, eumDer: Uint8Array): Promise<void> {
    await this.save(this.database.db, eid, euiccDer, eumDer, 'registered')
  }

  /** Holds the certificates of accepted notifications, in the pipeline's transaction: returns the EIDs
   * written, and `remember`, to call once that transaction has committed (this process then skips
   * writing them again). */
  async learn (tx: Tx, certificates: ReadonlyArray<{ eid: string, euiccDer: Uint8Array, eumDer: Uint8Array | null }>): Promise<{ eids: string[], remember: () => void }> {
    const written: string[] = []
    const eids: string[] = []
    for (const c of certificates) {
      const key = `${c.eid}:${createHash('sha256').update(c.euiccDer).digest('hex')}`
      if (this.learned.has(key) || written.includes(key)) continue
      await this.save(tx, c.eid, c.euiccDer, c.eumDer, 'notification')
      written.push(key)
      eids.push(c.eid)
    }
    return { eids, remember: () => { for (const key of written) this.learned.add(key) } }
  }

  /** What the hub holds for these EIDs (EIDs it holds nothing for are absent). */
  async held (eids: readonly string[]): Promise<Map<string, HeldCertificate>> {
    if (eids.length === 0) return new Map()
    const rows = await this.database.db.select({ eid: euiccCertificates.eid, euiccDer: euiccCertificates.euiccDer, eumDer: euiccCertificates.eumDer })
      .from(euiccCertificates).where(sql`${euiccCertificates.eid} = any(${textArray(eids)})`)
    return new Map(rows.map(({ eid, ...held }) => [eid, held]))
  }

  /** The eUICC certificate (DER) held for an EID, to verify a signed eUICC Package result. */
  async euiccDer (eid: string | null): Promise<Uint8Array | null> {
    if (eid === null) return null
    const [row] = await this.database.db.select({ der: euiccCertificates.euiccDer }).from(euiccCertificates).where(eq(euiccCertificates.eid, eid))
    return row?.der ?? null
  }

  private async save (tx: Tx | Db, eid: string, euiccDer: Uint8Array, eumDer: Uint8Array | null, source: 'registered' | 'notification'): Promise<void> {
    const values = { eid, euiccDer: Buffer.from(euiccDer), eumDer: eumDer === null ? null : Buffer.from(eumDer), source, updatedAt: new Date() }
    await tx.insert(euiccCertificates).values(values).onConflictDoUpdate({ target: euiccCertificates.eid, set: values })
  }
}
