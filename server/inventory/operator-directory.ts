import type { Database } from '../db/database.ts'
import { operators, type OperatorRow } from '../db/schema/index.ts'

/** Operators by ICCID issuer prefix (longest match) and by network MCC/MNC, loaded once at start (the
 * `operators` table is seeded by a migration). Used by the profile inventory (a profile's operator), the
 * notification pipeline, commands, device ingest and the routes. */
export class OperatorDirectory {
  private operators: OperatorRow[] = []

  constructor (private readonly database: Database) {}

  async load (): Promise<void> {
    const rows = await this.database.db.select().from(operators).orderBy(operators.id)
    this.operators = rows.sort((a, b) => b.iccidPrefix.length - a.iccidPrefix.length)
  }

  list (): OperatorRow[] {
    return [...this.operators].sort((a, b) => a.id.localeCompare(b.id))
  }

  byIccid (iccid: string): OperatorRow | null {
    return this.operators.find((o) => iccid.startsWith(o.iccidPrefix)) ?? null
  }

  byNetwork (mcc: string, mnc: string): OperatorRow | null {
    return this.operators.find((o) => o.mcc === mcc && Number(o.mnc) === Number(mnc)) ?? null
  }
}
