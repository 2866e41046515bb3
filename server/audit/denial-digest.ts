import type { AuditEntry } from './audit-log.ts'

/** How long repeats of one denial are gathered into one summary row. */
export const DIGEST_WINDOW_MS = 60_000
const MAX_SAMPLES = 10

interface Gathered { entry: AuditEntry, count: number, samples: Set<string>, first: string, last: string }

/**
 * Refused MQTT actions, audited without letting a flood fill the table: the first denial of a kind
 * (action, reason and, once authenticated, the device) in a window is written at once; the repeats in
 * that window become one summary row at its end (`repeated`, the count, the first and last times and up
 * to 10 sample details). 1,000 failed CONNECTs a minute cost two rows, not 1,000. The claimed client id
 * of an unauthenticated CONNECT is attacker-chosen, so it is a sample, never part of the kind.
 */
export class DenialDigest {
  private readonly windows = new Map<string, Gathered | null>()
  private readonly timer: NodeJS.Timeout

  constructor (private readonly write: (entry: AuditEntry) => void, windowMs = DIGEST_WINDOW_MS) {
    this.timer = setInterval(() => { this.flush() }, windowMs).unref()
  }

  record (kind: string, entry: AuditEntry, sample: string): void {
    if (!this.windows.has(kind)) {
      this.windows.set(kind, null) // the window is open: this one is written, repeats are gathered
      this.write(entry)
      return
    }
    const at = new Date().toISOString()
    let gathered = this.windows.get(kind) ?? null
    if (gathered === null) {
      gathered = { entry, count: 0, samples: new Set(), first: at, last: at }
      this.windows.set(kind, gathered)
    }
    gathered.count++
    gathered.last = at
    if (gathered.samples.size < MAX_SAMPLES) gathered.samples.add(sample.slice(0, 200))
  }

  /** Writes the summaries of the windows that gathered repeats and opens new windows. */
  flush (): void {
    for (const gathered of this.windows.values()) {
      if (gathered === null) continue
      const { entry, count, samples, first, last } = gathered
      this.write({ ...entry, detail: { ...entry.detail, repeated: count, from: first, to: last, samples: [...samples] } })
    }
    this.windows.clear()
  }

  close (): void {
    clearInterval(this.timer)
    this.flush()
  }
}
