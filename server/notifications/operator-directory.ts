import type { OperatorRow } from '../db/schema/index.ts'
import type { EuiccRepository } from '../repositories/euicc-repository.ts'

/** Operators by ICCID issuer prefix (longest match) and by network MCC/MNC, loaded once at start. */
export class OperatorDirectory {
  private operators: OperatorRow[] = []

  constructor (private readonly repository: EuiccRepository) {}

  async load (): Promise<void> {
    this.operators = (await this.repository.operators()).sort((a, b) => b.iccidPrefix.length - a.iccidPrefix.length)
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
