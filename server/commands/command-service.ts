import { X509Certificate, randomUUID } from 'node:crypto'
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import { OPS_WITH_ICCID, parseActivationCode, parseCommandResult, type CommandMessage, type CommandOp, type CommandResultMessage } from '../../protocol/commands.ts'
import type { CommandEventData } from '../../protocol/events.ts'
import { topics } from '../../protocol/topics.ts'
import type { AuditActorType, AuditLog } from '../audit/audit-log.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { Database } from '../db/database.ts'
import { commands, devices, eimCounters, euiccCertificates, profiles, type CommandRow, type CommandStatus, type ProfileRow } from '../db/schema/index.ts'
import { reportedConflict } from '../notifications/profile-conflict.ts'
import type { EimIdentity } from '../eim/eim-identity.ts'
import { decodeEuiccPackageResult, encodeEuiccPackageRequest, MAX_COUNTER_VALUE, PACKAGE_ERROR, PSMO_TAG, verifyPackageResultSignature, type ListedProfile } from '../eim/euicc-package.ts'
import { errors } from '../errors.ts'
import type { HubMetrics } from '../metrics.ts'
import { profileEventData } from '../notifications/notification-pipeline.ts'
import type { OperatorDirectory } from '../notifications/operator-directory.ts'
import { decodeCursor, encodeCursor } from '../repositories/cursor.ts'
import type { EuiccRepository, Tx } from '../repositories/euicc-repository.ts'

export const DEFAULT_TTL_SECONDS = 3600
export const MAX_TTL_SECONDS = 7 * 24 * 3600
const TERMINAL: ReadonlySet<CommandStatus> = new Set(['succeeded', 'failed', 'expired', 'cancelled'])

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

export interface CommandServiceDeps {
  database: Database
  bus: EventBus
  audit: AuditLog
  euicc: EuiccRepository
  operators: OperatorDirectory
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

interface Verdict { status: 'succeeded' | 'failed', code: string | null, message: string | null, listed: ListedProfile[] | null }

/** The command lifecycle (docs/operations.md): queued → sent → succeeded | failed | expired | cancelled,
 * every transition a conditional UPDATE in Postgres, so several processes and a restart agree. */
export class CommandService {
  /** Devices connected to this process with a subscription to their commands, each with its connection
   * (the broker's object for it): a command in flight is resent once per connection, never per SUBSCRIBE. */
  private readonly ready = new Map<string, object>()
  /** Per-device chain of delivery work: one pump at a time per device in this process. */
  private readonly pumps = new Map<string, Promise<void>>()
  private readonly sweepTimer: NodeJS.Timeout
  private readonly unsubscribe: () => void
  private closed = false
  /** Called after each command reaches a terminal state (campaigns listen). */
  onFinished: (row: CommandRow) => void = () => {}

  constructor (private readonly deps: CommandServiceDeps) {
    this.sweepTimer = setInterval(() => { this.sweep().catch((err: Error) => deps.logger.error({ err: err.message }, 'command expiry sweep failed')) }, deps.sweepMs ?? 1000).unref()
    // A command created on another process for a device connected here: deliver it from here.
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'command.updated' && event.data.status === 'queued' && this.ready.has(event.data.deviceId)) this.pump(event.data.deviceId, false)
    })
  }

  private get db () { return this.deps.database.db }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.sweepTimer)
    this.unsubscribe()
    await Promise.allSettled([...this.pumps.values()])
  }

  /** The device subscribed to its commands (or resumed a persistent session) on `connection`: on a new
   * connection, resend what is in flight (DUP=1), then deliver what is queued; on one already ready (an
   * SDK that subscribes again), only deliver what is queued. The hub is the only owner of command
   * delivery: the broker keeps no session copy of commands (broker/session-persistence.ts). */
  deviceReady (deviceId: string, connection: object): void {
    const known = this.ready.get(deviceId) === connection
    this.ready.set(deviceId, connection)
    this.pump(deviceId, !known)
  }

  deviceGone (deviceId: string, connection: object): void {
    if (this.ready.get(deviceId) === connection) this.ready.delete(deviceId)
  }

  async create (input: CommandInput): Promise<CommandRow> {
    const [row] = await this.insert(this.db, [input])
    await this.announce([row], input.requester)
    return row
  }

  /** Inserts queued commands (in the caller's transaction when given one); `announce` them once committed. */
  async insert (tx: Tx | CommandService['db'], inputs: readonly CommandInput[]): Promise<CommandRow[]> {
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

  /** Audits, publishes and delivers newly inserted commands. */
  async announce (rows: readonly CommandRow[], requester: Requester): Promise<void> {
    for (const row of rows) {
      await this.audit(row, 'command.create', requester, 'success', { deviceId: row.deviceId, op: row.op, iccid: row.iccid, ttlSeconds: Math.round((row.expiresAt.getTime() - row.createdAt.getTime()) / 1000) })
      this.emit(row)
      if (this.ready.has(row.deviceId)) this.pump(row.deviceId, false)
    }
  }

  async get (tenantId: string, id: string): Promise<CommandRow | null> {
    if (!isUuid(id)) return null
    const [row] = await this.db.select().from(commands).where(and(eq(commands.tenantId, tenantId), eq(commands.id, id)))
    return row ?? null
  }

  async listByDevice (tenantId: string, deviceId: string, limit: number, cursor?: string, status?: CommandStatus): Promise<{ items: CommandRow[], nextCursor: string | null }> {
    return await this.list(tenantId, { deviceId }, limit, cursor, status)
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

  /** Cancels a queued command; one already sent cannot be called back (409). */
  async cancel (tenantId: string, id: string, requester: Requester): Promise<CommandRow> {
    const existing = await this.get(tenantId, id)
    if (existing === null) throw new errors.NotFound('Command')
    const now = new Date()
    const [row] = await this.db.update(commands)
      .set({ status: 'cancelled', finishedAt: now, updatedAt: now, errorCode: 'cancelled', errorMessage: `cancelled by ${requester.type}:${requester.id}` })
      .where(and(eq(commands.id, id), eq(commands.status, 'queued'))).returning()
    if (row === undefined) {
      const current = await this.get(tenantId, id)
      throw new errors.CommandNotCancellable(`the command is ${current?.status ?? 'gone'}; only a queued command can be cancelled`)
    }
    await this.audit(row, 'command.cancel', requester, 'success', { deviceId: row.deviceId, op: row.op })
    this.finished(row)
    return row
  }

  /** Cancels the queued commands of a campaign (campaign cancel). */
  async cancelQueuedOfCampaign (campaignId: string, requester: Requester): Promise<number> {
    const now = new Date()
    const rows = await this.db.update(commands)
      .set({ status: 'cancelled', finishedAt: now, updatedAt: now, errorCode: 'cancelled', errorMessage: 'the campaign was cancelled' })
      .where(and(eq(commands.campaignId, campaignId), eq(commands.status, 'queued'))).returning()
    for (const row of rows) {
      await this.audit(row, 'command.cancel', requester, 'success', { deviceId: row.deviceId, op: row.op, campaignId })
      this.finished(row)
    }
    return rows.length
  }

  /** Expires queued and sent commands past their TTL; returns how many. */
  async sweep (): Promise<number> {
    if (this.closed) return 0
    const now = new Date()
    const rows = await this.db.update(commands)
      .set({ status: 'expired', finishedAt: now, updatedAt: now, errorCode: 'expired', errorMessage: 'no answer before the command expired' })
      .where(and(inArray(commands.status, ['queued', 'sent']), lt(commands.expiresAt, now))).returning()
    for (const row of rows) {
      await this.audit(row, 'command.expire', { type: 'system', id: 'hub' }, 'failure', { deviceId: row.deviceId, op: row.op, sent: row.sentAt !== null })
      this.finished(row)
    }
    return rows.length
  }

  // ---- delivery --------------------------------------------------------------------------------

  private pump (deviceId: string, resend: boolean): void {
    if (this.closed) return
    const previous = this.pumps.get(deviceId) ?? Promise.resolve()
    const next = previous.then(() => this.deliver(deviceId, resend)).catch((err: Error) => {
      this.deps.logger.error({ err: err.message, deviceId }, 'command delivery failed; retried when the device reconnects')
    })
    this.pumps.set(deviceId, next)
    next.then(() => { if (this.pumps.get(deviceId) === next) this.pumps.delete(deviceId) }, () => {})
  }

  /** At most one command of a device is `sent` (the partial unique index enforces it across processes):
   * resend it when asked, else send the oldest queued one. */
  private async deliver (deviceId: string, resend: boolean): Promise<void> {
    if (this.closed || !this.ready.has(deviceId)) return
    const [inFlight] = await this.db.select().from(commands).where(and(eq(commands.deviceId, deviceId), eq(commands.status, 'sent')))
    if (inFlight !== undefined) {
      if (resend) await this.publish(inFlight)
      return
    }
    const [next] = await this.db.select().from(commands)
      .where(and(eq(commands.deviceId, deviceId), eq(commands.status, 'queued'), sql`${commands.expiresAt} > now()`))
      .orderBy(asc(commands.createdAt), asc(commands.id)).limit(1)
    if (next === undefined) return
    let sent: CommandRow | undefined
    try {
      sent = await this.db.transaction(async (tx) => await this.markSent(tx, next))
    } catch (err) {
      if ((err as { code?: string }).code === '23505' || /commands_one_in_flight/.test((err as Error).message)) return // another process sent one
      throw err
    }
    if (sent === undefined) return
    this.emit(sent)
    await this.publish(sent)
  }

  /** queued → sent; for an SGP.32 device the package is built and signed here, with the next counter. */
  private async markSent (tx: Tx, row: CommandRow): Promise<CommandRow | undefined> {
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
      set.euiccPackageRequest = Buffer.from(encodeEuiccPackageRequest({
        eimId: this.deps.eim.eimId, eid, counterValue: counter.counterValue, eimTransactionId: transactionId, op: row.op, iccid: row.iccid, privateKey: this.deps.eim.privateKey
      }))
    }
    const [sent] = await tx.update(commands).set(set).where(and(eq(commands.id, row.id), eq(commands.status, 'queued'))).returning()
    return sent
  }

  private async failUnsent (tx: Tx, row: CommandRow, code: string, message: string): Promise<undefined> {
    const now = new Date()
    const [failed] = await tx.update(commands).set({ status: 'failed', finishedAt: now, updatedAt: now, errorCode: code, errorMessage: message })
      .where(and(eq(commands.id, row.id), eq(commands.status, 'queued'))).returning()
    if (failed !== undefined) queueMicrotask(() => { this.finished(failed) })
    return undefined
  }

  private async publish (row: CommandRow): Promise<void> {
    const message: CommandMessage = { id: row.id, op: row.op, expiresAt: row.expiresAt.toISOString() }
    if (row.iccid !== null) message.iccid = row.iccid
    if (row.activationCode !== null) message.activationCode = row.activationCode
    if (row.euiccPackageRequest !== null) message.euiccPackageRequest = Buffer.from(row.euiccPackageRequest).toString('base64')
    await this.deps.send(topics.command(row.deviceId, row.id), JSON.stringify(message), row.deliveries > 0)
    this.deps.metrics?.commandDeliveries.inc()
    await this.db.update(commands).set({ deliveries: sql`${commands.deliveries} + 1` }).where(eq(commands.id, row.id))
  }

  // ---- results ---------------------------------------------------------------------------------

  /** A device's answer on `commands/{commandId}/result`, before its PUBACK: verified, recorded and applied
   * to the profile inventory in one transaction. A result that cannot be used is returned for quarantine;
   * a repeated one is acknowledged and ignored. */
  async handleResult (device: { id: string, tenantId: string }, commandId: string, payload: Uint8Array | null): Promise<ResultOutcome> {
    const parsed = payload === null ? { ok: false as const, reason: 'invalid-result', detail: 'the result is over its size limit' } : parseCommandResult(payload)
    if (!parsed.ok) {
      await this.failInvalidResult(device, commandId, parsed.detail)
      return parsed
    }
    if (!isUuid(commandId)) return { ok: false, reason: 'unknown-command', detail: `no command ${commandId}` }
    const [row] = await this.db.select().from(commands).where(and(eq(commands.id, commandId), eq(commands.deviceId, device.id)))
    if (row === undefined) return { ok: false, reason: 'unknown-command', detail: `no command ${commandId} for this device` }
    if (row.status === 'queued') return { ok: false, reason: 'command-not-sent', detail: `command ${commandId} was not sent` }
    if (TERMINAL.has(row.status)) {
      if (row.result === null && (row.status === 'expired' || row.status === 'cancelled')) {
        // A late answer: kept for the record; the command stays expired.
        await this.db.update(commands).set({ result: parsed.value as Record<string, unknown>, updatedAt: new Date() }).where(and(eq(commands.id, row.id), sql`${commands.result} is null`))
      }
      return { ok: true }
    }
    const verdict = await this.judge(row, parsed.value)
    const now = new Date()
    const changed: ProfileRow[] = []
    const updated = await this.db.transaction(async (tx) => {
      const [done] = await tx.update(commands).set({
        status: verdict.status,
        finishedAt: now,
        updatedAt: now,
        result: parsed.value as Record<string, unknown>,
        errorCode: verdict.code,
        errorMessage: verdict.message
      }).where(and(eq(commands.id, row.id), eq(commands.status, 'sent'))).returning()
      if (done !== undefined && verdict.status === 'succeeded') changed.push(...await this.applyEffects(tx, done, parsed.value))
      return done
    })
    if (updated === undefined) return { ok: true } // expired or answered meanwhile
    if (updated.status === 'succeeded' && updated.eid !== null) {
      const listed = verdict.listed ?? listedFromData(parsed.value.data)
      if (listed !== null && updated.op === 'listProfiles') {
        changed.push(...await this.deps.euicc.applyInventory(updated.tenantId, updated.deviceId, updated.eid, listed.map((p) => ({ ...p, operatorId: this.deps.operators.byIccid(p.iccid)?.id ?? null }))))
      }
    }
    for (const p of changed) if (p.tenantId !== null) this.deps.bus.publish({ type: 'profile.changed', tenantId: p.tenantId, data: profileEventData(p) })
    await this.audit(updated, `command.${updated.status}`, { type: 'device', id: device.id }, updated.status === 'succeeded' ? 'success' : 'failure',
      { op: updated.op, requestedBy: updated.requestedBy, ...(updated.errorCode === null ? {} : { code: updated.errorCode, message: updated.errorMessage }) })
    this.finished(updated)
    return { ok: true }
  }

  /** An answer the hub cannot use ends its command `failed` (`invalid-result`), so the eUICC's queue moves
   * on; the payload itself is quarantined by the caller. */
  private async failInvalidResult (device: { id: string }, commandId: string, detail: string): Promise<void> {
    if (!isUuid(commandId)) return
    const now = new Date()
    const [failed] = await this.db.update(commands)
      .set({ status: 'failed', finishedAt: now, updatedAt: now, errorCode: 'invalid-result', errorMessage: `the device's answer cannot be used: ${detail}`.slice(0, 1000) })
      .where(and(eq(commands.id, commandId), eq(commands.deviceId, device.id), eq(commands.status, 'sent'))).returning()
    if (failed === undefined) return
    await this.audit(failed, 'command.failed', { type: 'device', id: device.id }, 'failure', { op: failed.op, code: 'invalid-result' })
    this.finished(failed)
  }

  /** Reads the device's answer; for a packaged command the signed EuiccPackageResult decides. */
  private async judge (row: CommandRow, result: CommandResultMessage): Promise<Verdict> {
    const fail = (code: string, message: string): Verdict => ({ status: 'failed', code, message, listed: null })
    if (row.euiccPackageRequest === null) {
      if (result.status === 'ok') return { status: 'succeeded', code: null, message: null, listed: null }
      return fail(result.code ?? 'device-error', result.message ?? 'the device reported an error')
    }
    if (result.euiccPackageResult === undefined) {
      return fail(result.status === 'error' ? (result.code ?? 'device-error') : 'missing-package-result', result.message ?? 'the answer carries no euiccPackageResult')
    }
    let decoded
    try {
      decoded = decodeEuiccPackageResult(new Uint8Array(Buffer.from(result.euiccPackageResult, 'base64')))
    } catch (err) {
      return fail('malformed-package-result', `the euiccPackageResult cannot be decoded: ${(err as Error).message}`)
    }
    const tx = row.eimTransactionId
    if (decoded.kind === 'unsigned-error') {
      return fail('package-refused', `the eUICC refused the package without signing (${result.code ?? 'no code'}${result.message === undefined ? '' : ': ' + result.message})`)
    }
    if (decoded.eimId !== this.deps.eim.eimId) return fail('package-mismatch', `the result names eIM "${decoded.eimId}", not this hub's`)
    if (decoded.counterValue !== row.counterValue) return fail('package-mismatch', `the result's counterValue ${decoded.counterValue} is not the package's ${row.counterValue ?? '-'}`)
    if (decoded.eimTransactionId === null || Buffer.from(decoded.eimTransactionId).toString('hex') !== tx) return fail('package-mismatch', 'the result\'s eimTransactionId is not the package\'s')
    const [cert] = await this.db.select({ der: euiccCertificates.euiccDer }).from(euiccCertificates).where(eq(euiccCertificates.eid, row.eid as string))
    if (cert === undefined) return fail('unknown-euicc', `the hub holds no eUICC certificate for ${row.eid ?? '?'}: the result cannot be verified`)
    let publicKey
    try {
      publicKey = new X509Certificate(cert.der).publicKey
    } catch {
      return fail('unknown-euicc', 'the stored eUICC certificate cannot be read')
    }
    if (!verifyPackageResultSignature(decoded, publicKey)) return fail('bad-signature', 'the euiccPackageResult signature does not verify with the eUICC certificate')
    if (decoded.kind === 'signed-error') {
      const name = PACKAGE_ERROR[decoded.errorCode] ?? `error-${decoded.errorCode}`
      return fail(name, `the eUICC refused the package: ${name} (${decoded.errorCode})`)
    }
    const bad = decoded.results.find((r) => r.code !== 0)
    if (bad !== undefined) return fail(bad.reason, `${bad.op}: ${bad.reason} (${bad.code})`)
    return { status: 'succeeded', code: null, message: null, listed: decoded.results.find((r) => r.profiles !== undefined)?.profiles ?? null }
  }

  /** A succeeded operation changes the inventory at once (cause `command: <op> <id>`); the notifications
   * that follow confirm it. */
  private async applyEffects (tx: Tx, row: CommandRow, result: CommandResultMessage): Promise<ProfileRow[]> {
    const eid = row.eid
    if (eid === null) return []
    const cause = `command: ${row.op} ${row.id}`
    const now = new Date()
    const upsert = async (iccid: string, state: ProfileRow['state']): Promise<ProfileRow[]> => {
      const conflict = reportedConflict(sql`${state}::text`, sql`profiles.reported_state`, 'the command says')
      return await tx.insert(profiles).values({ eid, iccid, tenantId: row.tenantId, deviceId: row.deviceId, state, seqNumber: null, cause, changedAt: now, operatorId: this.deps.operators.byIccid(iccid)?.id ?? null })
        .onConflictDoUpdate({ target: [profiles.eid, profiles.iccid], set: { state, cause, changedAt: now, conflict, deviceId: row.deviceId, tenantId: row.tenantId } })
        .returning()
    }
    switch (row.op) {
      case 'enable': {
        const others = await tx.update(profiles).set({ state: 'disabled', cause: `${cause} (implicit)`, changedAt: now })
          .where(and(eq(profiles.eid, eid), eq(profiles.state, 'enabled'), sql`${profiles.iccid} <> ${row.iccid}`)).returning()
        return [...others, ...await upsert(row.iccid as string, 'enabled')]
      }
      case 'disable': return await upsert(row.iccid as string, 'disabled')
      case 'delete': return await upsert(row.iccid as string, 'deleted')
      case 'setFallback': {
        const cleared = await tx.update(profiles).set({ fallback: false }).where(and(eq(profiles.eid, eid), eq(profiles.fallback, true), sql`${profiles.iccid} <> ${row.iccid}`)).returning()
        const set = await tx.update(profiles).set({ fallback: true, cause, changedAt: now }).where(and(eq(profiles.eid, eid), eq(profiles.iccid, row.iccid as string))).returning()
        return [...cleared, ...set]
      }
      case 'unsetFallback':
        return await tx.update(profiles).set({ fallback: false, cause, changedAt: now })
          .where(and(eq(profiles.eid, eid), row.iccid === null ? eq(profiles.fallback, true) : eq(profiles.iccid, row.iccid))).returning()
      case 'download': {
        const data = result.data as { iccid?: unknown } | undefined
        const iccid = typeof data?.iccid === 'string' && /^89[0-9]{16,18}$/.test(data.iccid) ? data.iccid : null
        // A downloaded profile is installed and not enabled: `disabled`, as the contract names it.
        return iccid === null ? [] : await upsert(iccid, 'disabled')
      }
      case 'listProfiles':
        return []
    }
  }

  // ---- events and audit --------------------------------------------------------------------------

  private finished (row: CommandRow): void {
    this.deps.metrics?.commands.inc({ op: row.op, status: row.status, code: row.errorCode ?? '' })
    this.emit(row)
    this.onFinished(row)
    if (this.ready.has(row.deviceId)) this.pump(row.deviceId, false)
  }

  private emit (row: CommandRow): void {
    this.deps.bus.publish({ type: 'command.updated', tenantId: row.tenantId, data: commandEventData(row) })
  }

  private async audit (row: CommandRow, action: string, who: Requester, outcome: 'success' | 'failure', detail: Record<string, unknown>): Promise<void> {
    const actorType: AuditActorType = who.type === 'campaign' ? 'system' : who.type
    await this.deps.audit.append({
      tenantId: row.tenantId,
      actorType,
      actorId: who.type === 'campaign' ? `campaign:${who.id}` : who.id,
      action,
      target: row.id,
      outcome,
      detail: { ...detail, requestedBy: row.requestedBy },
      ip: who.ip ?? null
    }).catch((err: Error) => this.deps.logger.error({ err: err.message }, 'audit append failed'))
  }
}

export function commandEventData (row: CommandRow): CommandEventData {
  return {
    id: row.id,
    deviceId: row.deviceId,
    op: row.op,
    iccid: row.iccid,
    status: row.status,
    requestedBy: row.requestedBy,
    campaignId: row.campaignId,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    sentAt: row.sentAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    error: row.errorCode === null ? null : { code: row.errorCode, message: row.errorMessage ?? '' }
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

function listedFromData (data: unknown): ListedProfile[] | null {
  const list = (data as { profiles?: unknown } | undefined)?.profiles
  if (!Array.isArray(list)) return null
  const out: ListedProfile[] = []
  for (const p of list as Array<Record<string, unknown>>) {
    if (typeof p?.iccid !== 'string' || !/^89[0-9]{16,18}$/.test(p.iccid)) continue
    out.push({ iccid: p.iccid, state: p.state === 'enabled' ? 'enabled' : 'disabled', ...(typeof p.name === 'string' ? { name: p.name } : {}), ...(typeof p.spn === 'string' ? { spn: p.spn } : {}) })
  }
  return out
}

const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
