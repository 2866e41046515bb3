import { quarantine, type NewQuarantineRow, type NewTelemetryRow } from '../db/schema/index.ts'
import type { Database } from '../db/database.ts'
import { resultRows } from '../db/sql-values.ts'
import { countedSamples, hasUsageCounters, recordUsage } from '../usage/usage-counter.ts'
import { insertTelemetry, insertTelemetryCounted } from './telemetry-insert.ts'

export interface IngestBatcherOptions {
  /** Most rows written in one transaction. */
  maxBatchRows: number
  /** Global bound on concurrent write transactions: past it, work queues and devices wait for their
   * PUBACK, which is how a slow database turns into backpressure instead of memory growth. */
  maxConcurrentWrites: number
}

export interface IngestBatchObserver {
  committed (rows: number, quarantined: number, seconds: number): void
  failed (rows: number, err: Error): void
}

export interface IngestWork {
  telemetry: readonly NewTelemetryRow[]
  quarantine: readonly NewQuarantineRow[]
}

interface Pending extends IngestWork {
  resolve (): void
  reject (err: Error): void
}

/** Groups the writes of many concurrent publishes into few transactions. `write()` resolves only once
 * the transaction holding its rows has committed, and rejects if that transaction fails; the caller
 * acknowledges the device only after it resolves. Inserts are idempotent (ON CONFLICT DO NOTHING on
 * the telemetry key), so a device's resend after a lost PUBACK is stored once. */
export class IngestBatcher {
  private queue: Pending[] = []
  private queuedRows = 0
  private inFlight = 0
  private scheduled = false
  private closed = false
  private readonly idle: Array<() => void> = []

  constructor (
    private readonly database: Database,
    private readonly options: IngestBatcherOptions,
    private readonly observer: IngestBatchObserver
  ) {}

  get queued (): number { return this.queuedRows }
  get writing (): number { return this.inFlight }

  write (work: IngestWork): Promise<void> {
    if (this.closed) return Promise.reject(new Error('ingest is closed'))
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ telemetry: work.telemetry, quarantine: work.quarantine, resolve, reject })
      this.queuedRows += work.telemetry.length + work.quarantine.length
      this.schedule()
    })
  }

  /** Stops taking work and waits until every queued write has committed or failed. */
  async close (): Promise<void> {
    this.closed = true
    if (this.queue.length === 0 && this.inFlight === 0) return
    await new Promise<void>((resolve) => this.idle.push(resolve))
  }

  private schedule (): void {
    if (this.scheduled || this.inFlight >= this.options.maxConcurrentWrites) return
    this.scheduled = true
    // Let every publish parsed from the same socket reads join this batch before it is cut.
    setImmediate(() => {
      this.scheduled = false
      while (this.queue.length > 0 && this.inFlight < this.options.maxConcurrentWrites) this.flush()
      this.notifyIdle()
    })
  }

  /** The next batch, its rows gathered (plain loops and one splice: this runs for every message). */
  private takeBatch (): { batch: Pending[], telemetryRows: NewTelemetryRow[], quarantineRows: NewQuarantineRow[] } {
    const telemetryRows: NewTelemetryRow[] = []
    const quarantineRows: NewQuarantineRow[] = []
    let rows = 0
    let taken = 0
    for (; taken < this.queue.length; taken++) {
      const next = this.queue[taken]
      const size = next.telemetry.length + next.quarantine.length
      if (taken > 0 && rows + size > this.options.maxBatchRows) break
      for (const row of next.telemetry) telemetryRows.push(row)
      for (const row of next.quarantine) quarantineRows.push(row)
      rows += size
    }
    this.queuedRows -= rows
    return { batch: this.queue.splice(0, taken), telemetryRows, quarantineRows }
  }

  private flush (): void {
    const { batch, telemetryRows, quarantineRows } = this.takeBatch()
    const started = process.hrtime.bigint()
    this.inFlight++
    this.commit(telemetryRows, quarantineRows).then(() => {
      this.observer.committed(telemetryRows.length, quarantineRows.length, Number(process.hrtime.bigint() - started) / 1e9)
      for (const p of batch) p.resolve()
    }, (err: Error) => {
      this.observer.failed(telemetryRows.length + quarantineRows.length, err)
      for (const p of batch) p.reject(err)
    }).finally(() => {
      this.inFlight--
      if (this.queue.length > 0) this.schedule()
      this.notifyIdle()
    })
  }

  private async commit (telemetryRows: NewTelemetryRow[], quarantineRows: NewQuarantineRow[]): Promise<void> {
    // Samples with the modem's byte counters add their data usage in the same transaction (counted once:
    // only the rows the insert stored, never a resend).
    const counted = telemetryRows.some(hasUsageCounters)
    if (quarantineRows.length === 0 && !counted) {
      // The common case: one statement, atomic by itself.
      await this.database.rows(insertTelemetry(telemetryRows))
      return
    }
    await this.database.db.transaction(async (tx) => {
      if (counted) await recordUsage(tx, countedSamples(resultRows(await tx.execute(insertTelemetryCounted(telemetryRows)))))
      else if (telemetryRows.length > 0) await tx.execute(insertTelemetry(telemetryRows))
      if (quarantineRows.length > 0) await tx.insert(quarantine).values(quarantineRows)
    })
  }

  private notifyIdle (): void {
    if (this.queue.length > 0 || this.inFlight > 0) return
    for (const resolve of this.idle.splice(0)) resolve()
  }
}
