import { createHash } from 'node:crypto'

/** The `prevHash` of the first row. */
export const GENESIS_HASH = '0'.repeat(64)

export interface ChainedContent {
  id: number
  at: Date
  tenantId: string | null
  actorType: string
  actorId: string | null
  action: string
  target: string | null
  outcome: string
  detail: string
  ip: string | null
}

/** JSON with object keys sorted at every level, so the same value always gives the same text. */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key]
      if (v !== undefined) out[key] = sortKeys(v)
    }
    return out
  }
  return value
}

/** SHA-256 over the previous hash and this row's content, as a fixed-order JSON array (hex). */
export function chainHash (prevHash: string, row: ChainedContent): string {
  const content = JSON.stringify([
    row.id, row.at.toISOString(), row.tenantId, row.actorType, row.actorId, row.action, row.target, row.outcome, row.detail, row.ip
  ])
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex')
}
