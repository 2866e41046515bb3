import type { Logger } from 'pino'
import type { CommandEventData } from '../../protocol/events.ts'
import type { AuditActorType, AuditLog } from '../audit/audit-log.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { CommandRow } from '../db/schema/index.ts'
import type { HubMetrics } from '../metrics.ts'
import type { Requester } from './command-transitions.ts'

export interface CommandEventsDeps {
  bus: EventBus
  audit: AuditLog
  logger: Logger
  metrics?: HubMetrics
}

/** What the rest of the hub hears about commands, once a transition has committed: `command.updated` on
 * the bus (SSE, and the other processes), the audit trail, the `hub_commands_total` metric and, in this
 * process, the command-finished hook (delivery moves on to the device's next command; campaigns step). */
export class CommandEvents {
  private readonly finishedListeners = new Set<(row: CommandRow) => void>()

  constructor (private readonly deps: CommandEventsDeps) {}

  /** Calls `listener` after each command of this process reaches a terminal state; returns the
   * unsubscribe function. Other processes learn it from `command.updated` on the bus. */
  onFinished (listener: (row: CommandRow) => void): () => void {
    this.finishedListeners.add(listener)
    return () => { this.finishedListeners.delete(listener) }
  }

  /** Publishes `command.updated` (a state change that is not an end: queued, sent). */
  emit (row: CommandRow): void {
    this.deps.bus.publish({ type: 'command.updated', tenantId: row.tenantId, data: commandEventData(row) })
  }

  /** A command reached a terminal state (committed): counted, published, and the hook called. */
  finished (row: CommandRow): void {
    this.deps.metrics?.commands.inc({ op: row.op, status: row.status, code: row.errorCode ?? '' })
    this.emit(row)
    for (const listener of this.finishedListeners) {
      try {
        listener(row)
      } catch (err) {
        this.deps.logger.error({ err: (err as Error).message, commandId: row.id }, 'command-finished listener failed')
      }
    }
  }

  /** Appends to the audit trail; campaign commands are audited as actor `system`, id `campaign:<id>`, and
   * every entry's detail carries `requestedBy`. A failed append is logged, never thrown. */
  async audit (row: CommandRow, action: string, who: Requester, outcome: 'success' | 'failure', detail: Record<string, unknown>): Promise<void> {
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

/** The command as events and the API show it, without the device's answer. */
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
