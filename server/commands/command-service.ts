import type { Logger } from 'pino'
import type { AuditLog } from '../audit/audit-log.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { Database, Db } from '../db/database.ts'
import type { CommandRow, CommandStatus, ProfileRow } from '../db/schema/index.ts'
import type { EimIdentity } from '../eim/eim-identity.ts'
import { errors } from '../errors.ts'
import type { HubMetrics } from '../metrics.ts'
import type { ProfileInventory } from '../inventory/profile-inventory.ts'
import { profileEventData } from '../inventory/profile-row.ts'
import type { Tx } from '../repositories/euicc-repository.ts'
import type { EuiccCertificates } from '../trust/euicc-certificates.ts'
import { CommandDelivery } from './command-delivery.ts'
import { CommandEvents } from './command-events.ts'
import { downloadedIccid, judge, listedFromData, needsEuiccCertificate, parseResult } from './command-result.ts'
import { CommandTransitions, isUuid, TERMINAL, type CommandInput, type Requester } from './command-transitions.ts'

export interface CommandServiceDeps {
  database: Database
  bus: EventBus
  audit: AuditLog
  /** A succeeded command's effect on the profiles, in the transaction that ends it. */
  inventory: ProfileInventory
  /** The eUICC certificate a signed package result is verified with. */
  certificates: EuiccCertificates
  eim: EimIdentity
  logger: Logger
  metrics?: HubMetrics
  /** Publishes to a device (QoS 1; `dup` on a redelivery); resolves once the broker has taken the message. */
  send (topic: string, payload: string, dup: boolean): Promise<void>
  /** How often expired commands are swept (ms). */
  sweepMs?: number
}

/** What the ingest path should do with a result it could not use. */
export type ResultOutcome = { ok: true } | { ok: false, reason: string, detail: string }

/** The command lifecycle (docs/operations.md) as the routes, the broker and the ingest path use it. Each
 * operation is a transition (`command-transitions.ts`, the SQL), then what follows once it has committed
 * (`command-events.ts`: event, audit, the command-finished hook); delivery is `command-delivery.ts`, the
 * reading of a device's answer `command-result.ts`, a result's effect on the profiles
 * `server/inventory/profile-inventory.ts` (it commits with the command's end). What lives here: the
 * expiry sweep's timer and the handling of a result. */
export class CommandService {
  private readonly transitions: CommandTransitions
  private readonly events: CommandEvents
  private readonly delivery: CommandDelivery
  private readonly sweepTimer: NodeJS.Timeout
  private closed = false

  constructor (private readonly deps: CommandServiceDeps) {
    this.transitions = new CommandTransitions(deps.database)
    this.events = new CommandEvents(deps)
    this.delivery = new CommandDelivery({ ...deps, transitions: this.transitions, events: this.events })
    this.sweepTimer = setInterval(() => { this.sweep().catch((err: Error) => deps.logger.error({ err: err.message }, 'command expiry sweep failed')) }, deps.sweepMs ?? 1000).unref()
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.sweepTimer)
    await this.delivery.close()
  }

  /** Calls `listener` after each command ended by this process (committed); returns the unsubscribe. */
  onFinished (listener: (row: CommandRow) => void): () => void {
    return this.events.onFinished(listener)
  }

  deviceReady (deviceId: string, connection: object): void { this.delivery.deviceReady(deviceId, connection) }

  deviceGone (deviceId: string, connection: object): void { this.delivery.deviceGone(deviceId, connection) }

  async create (input: CommandInput): Promise<CommandRow> {
    const [row] = await this.insert(this.deps.database.db, [input])
    await this.announce([row], input.requester)
    return row
  }

  /** Inserts queued commands (in the caller's transaction when given one); `announce` them once committed. */
  async insert (tx: Tx | Db, inputs: readonly CommandInput[]): Promise<CommandRow[]> {
    return await this.transitions.insert(tx, inputs)
  }

  /** Audits, publishes and delivers newly inserted commands. */
  async announce (rows: readonly CommandRow[], requester: Requester): Promise<void> {
    for (const row of rows) {
      await this.events.audit(row, 'command.create', requester, 'success', { deviceId: row.deviceId, op: row.op, iccid: row.iccid, ttlSeconds: Math.round((row.expiresAt.getTime() - row.createdAt.getTime()) / 1000) })
      this.events.emit(row)
      this.delivery.nudge(row.deviceId)
    }
  }

  async get (tenantId: string, id: string): Promise<CommandRow | null> {
    return await this.transitions.get(tenantId, id)
  }

  async listByDevice (tenantId: string, deviceId: string, limit: number, cursor?: string, status?: CommandStatus): Promise<{ items: CommandRow[], nextCursor: string | null }> {
    return await this.transitions.list(tenantId, { deviceId }, limit, cursor, status)
  }

  /** A tenant's commands of one device or one campaign, newest first. */
  async list (tenantId: string, of: { deviceId: string } | { campaignId: string }, limit: number, cursor?: string, status?: CommandStatus): Promise<{ items: CommandRow[], nextCursor: string | null }> {
    return await this.transitions.list(tenantId, of, limit, cursor, status)
  }

  /** Cancels a queued command; one already sent cannot be called back (409). */
  async cancel (tenantId: string, id: string, requester: Requester): Promise<CommandRow> {
    const existing = await this.get(tenantId, id)
    if (existing === null) throw new errors.NotFound('Command')
    const row = await this.transitions.cancelQueued(id, `cancelled by ${requester.type}:${requester.id}`)
    if (row === undefined) {
      const current = await this.get(tenantId, id)
      throw new errors.CommandNotCancellable(`the command is ${current?.status ?? 'gone'}; only a queued command can be cancelled`)
    }
    await this.events.audit(row, 'command.cancel', requester, 'success', { deviceId: row.deviceId, op: row.op })
    this.events.finished(row)
    return row
  }

  /** Cancels the queued commands of a campaign (campaign cancel). */
  async cancelQueuedOfCampaign (campaignId: string, requester: Requester): Promise<number> {
    const rows = await this.transitions.cancelQueuedOfCampaign(campaignId)
    for (const row of rows) {
      await this.events.audit(row, 'command.cancel', requester, 'success', { deviceId: row.deviceId, op: row.op, campaignId })
      this.events.finished(row)
    }
    return rows.length
  }

  /** Expires queued and sent commands past their TTL; returns how many. */
  async sweep (): Promise<number> {
    if (this.closed) return 0
    const rows = await this.transitions.expireDue()
    for (const row of rows) {
      await this.events.audit(row, 'command.expire', { type: 'system', id: 'hub' }, 'failure', { deviceId: row.deviceId, op: row.op, sent: row.sentAt !== null })
      this.events.finished(row)
    }
    return rows.length
  }

  /** A device's answer on `commands/{commandId}/result`, before its PUBACK: judged (`command-result.ts`),
   * recorded and applied to the profile inventory in one transaction. A result that cannot be used is
   * returned for quarantine (and a sent command it names fails `invalid-result`, so the eUICC's queue
   * moves on); a repeated one is acknowledged and ignored. */
  async handleResult (device: { id: string, tenantId: string }, commandId: string, payload: Uint8Array | null): Promise<ResultOutcome> {
    const { transitions, events } = this
    const parsed = parseResult(payload)
    if (!parsed.ok) {
      const failed = await transitions.failSent(device.id, commandId, 'invalid-result', `the device's answer cannot be used: ${parsed.detail}`)
      if (failed !== undefined) {
        await events.audit(failed, 'command.failed', { type: 'device', id: device.id }, 'failure', { op: failed.op, code: 'invalid-result' })
        events.finished(failed)
      }
      return parsed
    }
    const row = await transitions.ofDevice(device.id, commandId)
    if (row === null) return { ok: false, reason: 'unknown-command', detail: isUuid(commandId) ? `no command ${commandId} for this device` : `no command ${commandId}` }
    if (row.status === 'queued') return { ok: false, reason: 'command-not-sent', detail: `command ${commandId} was not sent` }
    if (TERMINAL.has(row.status)) {
      // A late answer to an expired (or cancelled) command is kept for the record; the status stays.
      if (row.result === null && (row.status === 'expired' || row.status === 'cancelled')) await transitions.keepLateResult(row.id, parsed.value)
      return { ok: true }
    }
    const certificate = needsEuiccCertificate(row) ? await this.deps.certificates.euiccDer(row.eid) : null
    const verdict = judge(row, parsed.value, this.deps.eim.eimId, certificate)
    const changed: ProfileRow[] = []
    const updated = await transitions.transaction(async (tx) => {
      const done = await transitions.finish(tx, row.id, verdict, parsed.value)
      if (done !== undefined && verdict.status === 'succeeded') {
        const effect = { downloadedIccid: downloadedIccid(parsed.value.data), listed: verdict.listed ?? listedFromData(parsed.value.data) }
        changed.push(...await this.deps.inventory.applyCommand(tx, done, effect))
      }
      return done
    })
    if (updated === undefined) return { ok: true } // expired or answered meanwhile
    for (const p of changed) if (p.tenantId !== null) this.deps.bus.publish({ type: 'profile.changed', tenantId: p.tenantId, data: profileEventData(p) })
    await events.audit(updated, `command.${updated.status}`, { type: 'device', id: device.id }, updated.status === 'succeeded' ? 'success' : 'failure',
      { op: updated.op, requestedBy: updated.requestedBy, ...(updated.errorCode === null ? {} : { code: updated.errorCode, message: updated.errorMessage }) })
    events.finished(updated)
    return { ok: true }
  }
}
