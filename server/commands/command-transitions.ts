import { randomUUID } from 'node:crypto'
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm'
import { OPS_WITH_ICCID, parseActivationCode, type CommandOp, type CommandResultMessage } from '../../protocol/commands.ts'
import type { AuditActorType } from '../audit/audit-log.ts'
import type { Database, Db } from '../db/database.ts'
import { commands, devices, eimCounters, type CommandRow, type CommandStatus } from '../db/schema/index.ts'
import { MAX_COUNTER_VALUE, PSMO_TAG } from '../../esim/euicc-package.ts'
import { errors } from '../errors.ts'
import { decodeCursor, encodeCursor } from '../repositories/cursor.ts'
import type { Tx } from '../repositories/euicc-repository.ts'

export const DEFAULT_TTL_SECONDS = 3600
export const MAX_TTL_SECONDS = 7 * 24 * 3600
export const TERMINAL: ReadonlySet<CommandStatus> = new Set(['succeeded', 'failed', 'expired', 'cancelled'])

export interface Requester { type: AuditActorType | 'campaign', id: string, ip?: string | null }

export interface CommandInput {
  tenantId: string
  deviceId: string
  op: CommandOp
  iccid?: string | null
  activationCode?: string | null
  ttlSeconds?: number
  requester: Requester
  campaignId?: string | null
}

/** Builds and signs the eUICC Package of a command being sent (SGP.32), inside the transaction that
 * took its counter value. */
export type PackageSigner = (row: CommandRow, eid: string, counterValue: number, eimTransactionId: Buffer) => Uint8Array

/** What `markSent` did: the command went out (`sent`), ended before it could (`failed`: no EID, counter
 * exhausted), or is no longer this caller's to send (`null`: another path or process got there first). */
export type SendOutcome = { sent: CommandRow } | { failed: CommandRow } | null

/** The end a result gives a sent command. */
export interface Ending { status: 'succeeded' | 'failed', code: string | null, message: string | null }

/** The commands table and its state machine: queued → sent → succeeded | failed | expired, and
 * queued → cancelled. Every transition is one conditional `UPDATE … WHERE status = <from>`: of two
 * concurrent paths (a result and the expiry sweep, two hub processes) exactly one gets the row back, and
 * only that one goes on to emit, audit or apply effects. No method here publishes or audits. */
export class CommandTransitions {
  constructor (private readonly database: Database) {}

  private get db (): Db { return this.database.db }

  async transaction<T> (work: (tx: Tx) => Promise<T>): Promise<T> {
    return await this.db.transaction(work)
  }

  /** Inserts queued commands (in the caller's transaction when given one). */
  async insert (tx: Tx | Db, inputs: readonly CommandInput[]): Promise<CommandRow[]> {
    if (inputs.length === 0) return []
    const now = new Date()
    const values = inputs.map((input) => {
      const checked = validateCommand(input.op, input.iccid ?? null, input.activationCode ?? null)
      return {
        id: randomUUID(),
        tenantId: input.tenantId,
        deviceId: input.deviceId,
        op: input.op,
        iccid: checked.iccid,
        activationCode: checked.activationCode,
        requestedBy: `${input.requester.type}:${input.requester.id}`,
        campaignId: input.campaignId ?? null,
        createdAt: now,
        updatedAt: now,
        expiresAt: new Date(now.getTime() + (input.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000)
      }
    })
    return await tx.insert(commands).values(values).returning()
  }

  async get (tenantId: string, id: string): Promise<CommandRow | null> {
    if (!isUuid(id)) return null
    const [row] = await this.db.select().from(commands).where(and(eq(commands.tenantId, tenantId), eq(commands.id, id)))
    return row ?? null
  }

  /** A command of one device (a result names its command; another device's is not found). */
  async ofDevice (deviceId: string, id: string): Promise<CommandRow | null> {
    if (!isUuid(id)) return null
    const [row] = await this.db.select().from(commands).where(and(eq(commands.id, id), eq(commands.deviceId, deviceId)))
    return row ?? null
  }

  /** A tenant's commands of one device or one campaign, newest first. */
  async list (tenantId: string, of: { deviceId: string } | { campaignId: string }, limit: number, cursor?: string, status?: CommandStatus): Promise<{ items: CommandRow[], nextCursor: string | null }> {
    const where = [eq(commands.tenantId, tenantId), 'deviceId' in of ? eq(commands.deviceId, of.deviceId) : eq(commands.campaignId, of.campaignId)]
    if (status !== undefined) where.push(eq(commands.status, status))
    if (cursor !== undefined) {
      const [at, id] = decodeCursor(cursor, 2)
      where.push(sql`(${commands.createdAt}, ${commands.id}) < (${new Date(at).toISOString()}::timestamptz, ${id}::uuid)`)
    }
    const rows = await this.db.select().from(commands).where(and(...where)).orderBy(desc(commands.createdAt), desc(commands.id)).limit(limit + 1)
    const items = rows.slice(0, limit)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt.toISOString(), last.id]) : null }
  }

  /** The device's command in flight (at most one: the partial unique index `commands_one_in_flight`). */
  async inFlight (deviceId: string): Promise<CommandRow | undefined> {
    const [row] = await this.db.select().from(commands).where(and(eq(commands.deviceId, deviceId), eq(commands.status, 'sent')))
    return row
  }

  /** The device's oldest queued command that has not expired. */
  async nextQueued (deviceId: string): Promise<CommandRow | undefined> {
    const [row] = await this.db.select().from(commands)
      .where(and(eq(commands.deviceId, deviceId), eq(commands.status, 'queued'), sql`${commands.expiresAt} > now()`))
      .orderBy(asc(commands.createdAt), asc(commands.id)).limit(1)
    return row
  }

  /** queued → sent, in one transaction. For an SGP.32 device (`esimAgent: ipa`, an op that is a PSMO) the
   * next eIM counter value is taken (`eim_counters`, consecutive in delivery order, never reused) and the
   * package is built by `sign` and stored, so a resend or a restart never makes a second one. */
  async markSent (row: CommandRow, sign: PackageSigner): Promise<SendOutcome> {
    try {
      return await this.db.transaction(async (tx) => {
        const now = new Date()
        const [device] = await tx.select({ eid: devices.eid, esimAgent: devices.esimAgent }).from(devices).where(eq(devices.id, row.deviceId))
        const packaged = device?.esimAgent === 'ipa' && PSMO_TAG[row.op] !== undefined
        if (packaged && device.eid === null) {
          return await this.failUnsent(tx, row, 'no-eid', 'the device has no EID: an eUICC Package cannot be addressed')
        }
        const set: Partial<CommandRow> = { status: 'sent', sentAt: now, updatedAt: now, eid: device?.eid ?? null }
        if (packaged) {
          const eid = device.eid as string
          const [counter] = await tx.insert(eimCounters).values({ eid, counterValue: 1 })
            .onConflictDoUpdate({ target: eimCounters.eid, set: { counterValue: sql`${eimCounters.counterValue} + 1` } }).returning()
          if (counter.counterValue > MAX_COUNTER_VALUE) {
            return await this.failUnsent(tx, row, 'counter-exhausted', `the eIM counter of ${eid} has reached ${MAX_COUNTER_VALUE}`)
          }
          const transactionId = Buffer.from(row.id.replace(/-/g, ''), 'hex')
          set.counterValue = counter.counterValue
          set.eimTransactionId = transactionId.toString('hex')
          set.euiccPackageRequest = Buffer.from(sign(row, eid, counter.counterValue, transactionId))
        }
        const [sent] = await tx.update(commands).set(set).where(and(eq(commands.id, row.id), eq(commands.status, 'queued'))).returning()
        return sent === undefined ? null : { sent }
      })
    } catch (err) {
      // Another process sent one of this device's commands first: the unique index refused a second.
      if ((err as { code?: string }).code === '23505' || /commands_one_in_flight/.test((err as Error).message)) return null
      throw err
    }
  }

  private async failUnsent (tx: Tx, row: CommandRow, code: string, message: string): Promise<SendOutcome> {
    const now = new Date()
    const [failed] = await tx.update(commands).set({ status: 'failed', finishedAt: now, updatedAt: now, errorCode: code, errorMessage: message })
      .where(and(eq(commands.id, row.id), eq(commands.status, 'queued'))).returning()
    return failed === undefined ? null : { failed }
  }

  /** Counts one publish of the command (the next one carries DUP=1). */
  async countDelivery (id: string): Promise<void> {
    await this.db.update(commands).set({ deliveries: sql`${commands.deliveries} + 1` }).where(eq(commands.id, id))
  }

  /** sent → succeeded | failed, with the device's answer, in the caller's transaction (the inventory
   * effect commits with it); `undefined` when the command is no longer sent (expired, answered). */
  async finish (tx: Tx, id: string, ending: Ending, result: CommandResultMessage): Promise<CommandRow | undefined> {
    const now = new Date()
    const [done] = await tx.update(commands).set({
      status: ending.status,
      finishedAt: now,
      updatedAt: now,
      result: result as Record<string, unknown>,
      errorCode: ending.code,
      errorMessage: ending.message
    }).where(and(eq(commands.id, id), eq(commands.status, 'sent'))).returning()
    return done
  }

  /** sent → failed without an answer the hub can keep (`invalid-result`: the payload is quarantined). */
  async failSent (deviceId: string, id: string, code: string, message: string): Promise<CommandRow | undefined> {
    if (!isUuid(id)) return undefined
    const now = new Date()
    const [failed] = await this.db.update(commands)
      .set({ status: 'failed', finishedAt: now, updatedAt: now, errorCode: code, errorMessage: message.slice(0, 1000) })
      .where(and(eq(commands.id, id), eq(commands.deviceId, deviceId), eq(commands.status, 'sent'))).returning()
    return failed
  }

  /** Keeps a late answer to an expired or cancelled command for the record; the status stays. */
  async keepLateResult (id: string, result: CommandResultMessage): Promise<void> {
    await this.db.update(commands).set({ result: result as Record<string, unknown>, updatedAt: new Date() })
      .where(and(eq(commands.id, id), inArray(commands.status, ['expired', 'cancelled']), sql`${commands.result} is null`))
  }

  /** queued → cancelled. */
  async cancelQueued (id: string, message: string): Promise<CommandRow | undefined> {
    const now = new Date()
    const [row] = await this.db.update(commands)
      .set({ status: 'cancelled', finishedAt: now, updatedAt: now, errorCode: 'cancelled', errorMessage: message })
      .where(and(eq(commands.id, id), eq(commands.status, 'queued'))).returning()
    return row
  }

  /** queued → cancelled for every queued command of a campaign. */
  async cancelQueuedOfCampaign (campaignId: string): Promise<CommandRow[]> {
    const now = new Date()
    return await this.db.update(commands)
      .set({ status: 'cancelled', finishedAt: now, updatedAt: now, errorCode: 'cancelled', errorMessage: 'the campaign was cancelled' })
      .where(and(eq(commands.campaignId, campaignId), eq(commands.status, 'queued'))).returning()
  }

  /** queued | sent → expired for every command past its `expiresAt` (the sweep). */
  async expireDue (): Promise<CommandRow[]> {
    const now = new Date()
    return await this.db.update(commands)
      .set({ status: 'expired', finishedAt: now, updatedAt: now, errorCode: 'expired', errorMessage: 'no answer before the command expired' })
      .where(and(inArray(commands.status, ['queued', 'sent']), lt(commands.expiresAt, now))).returning()
  }
}

/** Checks the fields an operation needs; throws a coded 400. */
export function validateCommand (op: CommandOp, iccid: string | null, activationCode: string | null): { iccid: string | null, activationCode: string | null } {
  if (OPS_WITH_ICCID.has(op) && iccid === null) throw new errors.InvalidCommand(`${op} needs an iccid`)
  if (iccid !== null && !/^89[0-9]{16,18}$/.test(iccid)) throw new errors.InvalidCommand('iccid must be 18–20 digits starting with 89')
  if (op === 'download') {
    if (activationCode === null) throw new errors.InvalidCommand('download needs an activationCode')
    const parsed = parseActivationCode(activationCode)
    if (!parsed.ok) throw new errors.InvalidActivationCode(parsed.reason)
  } else if (activationCode !== null) {
    throw new errors.InvalidCommand('only download takes an activationCode')
  }
  return { iccid: op === 'download' || op === 'listProfiles' ? null : iccid, activationCode }
}

export const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
