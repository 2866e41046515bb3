import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A temporary HUB_EUICC_TRUST_DIR holding `certificates` (DER). */
export function trustDirectory (certificates: Uint8Array[]): { dir: string, remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-trust-'))
  certificates.forEach((der, i) => writeFileSync(join(dir, `ci-${i}.der`), der))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
