import type { Logger } from 'pino'
import type { CommandMessage } from '../../protocol/commands.ts'
import { topics } from '../../protocol/topics.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { CommandRow } from '../db/schema/index.ts'
import type { EimIdentity } from '../eim/eim-identity.ts'
import { encodeEuiccPackageRequest, psmoOfCommand } from '../../esim/euicc-package.ts'
import type { HubMetrics } from '../metrics.ts'
import type { CommandEvents } from './command-events.ts'
import type { CommandTransitions, PackageSigner } from './command-transitions.ts'

export interface CommandDeliveryDeps {
  transitions: CommandTransitions
  events: CommandEvents
  bus: EventBus
  eim: EimIdentity
  logger: Logger
  metrics?: HubMetrics
  /** Publishes to a device (QoS 1; `dup` on a redelivery); resolves once the broker has taken the message. */
  send (topic: string, payload: string, dup: boolean): Promise<void>
}

/** The per-device delivery pump (docs/operations.md, "Delivery").
 *
 * A device is ready when it is connected to this process with a subscription to its commands; `ready`
 * keeps the connection (the broker's object for it) so that what is in flight is resent once per
 * connection, with DUP=1 once it has been published before, never once per SUBSCRIBE. Each pump run then
 * sends the device's oldest queued command if none is in flight: one command in flight per eUICC, and
 * across processes the partial unique index `commands_one_in_flight` decides who sends it. Runs of one
 * device are chained (one at a time in this process). The pump runs when the device becomes ready, when
 * one of its commands is created here or on another process (`command.updated` queued, on the bus),
 * when one of its commands ends here, and for every ready device when the bus may have missed events. The hub is the only owner of command delivery: the broker keeps no
 * session copy of commands (broker/session-persistence.ts). */
export class CommandDelivery {
  private readonly ready = new Map<string, object>()
  private readonly pumps = new Map<string, Promise<void>>()
  private readonly unsubscribe: Array<() => void>
  private readonly sign: PackageSigner
  private closed = false

  constructor (private readonly deps: CommandDeliveryDeps) {
    const { eimId, privateKey } = deps.eim
    this.sign = (row, eid, counterValue, eimTransactionId) => encodeEuiccPackageRequest({ eimId, eid, counterValue, eimTransactionId, psmos: [psmoOfCommand(row.op, row.iccid)], privateKey })
    this.unsubscribe = [
      // A command created on another process for a device connected here: deliver it from here.
      deps.bus.subscribe((event) => {
        if (event.type === 'command.updated' && event.data.status === 'queued') this.nudge(event.data.deviceId)
      }),
      // The device's command ended: its next one can go.
      deps.events.onFinished((row) => { this.nudge(row.deviceId) }),
      // Redis was away: commands created on other processes meanwhile were not heard of; look again.
      deps.bus.onResync(() => { for (const deviceId of this.ready.keys()) this.pump(deviceId, false) })
    ]
  }

  async close (): Promise<void> {
    this.closed = true
    for (const unsubscribe of this.unsubscribe) unsubscribe()
    await Promise.allSettled([...this.pumps.values()])
  }

  /** The device subscribed to its commands (or resumed a persistent session) on `connection`: on a new
   * connection, resend what is in flight (DUP=1), then deliver what is queued; on one already ready (an
   * SDK that subscribes again), only deliver what is queued. */
  deviceReady (deviceId: string, connection: object): void {
    const known = this.ready.get(deviceId) === connection
    this.ready.set(deviceId, connection)
    this.pump(deviceId, !known)
  }

  deviceGone (deviceId: string, connection: object): void {
    if (this.ready.get(deviceId) === connection) this.ready.delete(deviceId)
  }

  /** Delivers the device's next queued command if the device is ready here; otherwise nothing. */
  nudge (deviceId: string): void {
    if (this.ready.has(deviceId)) this.pump(deviceId, false)
  }

  private pump (deviceId: string, resend: boolean): void {
    if (this.closed) return
    const previous = this.pumps.get(deviceId) ?? Promise.resolve()
    const next = previous.then(() => this.deliver(deviceId, resend)).catch((err: Error) => {
      this.deps.logger.error({ err: err.message, deviceId }, 'command delivery failed; retried when the device reconnects')
    })
    this.pumps.set(deviceId, next)
    next.then(() => { if (this.pumps.get(deviceId) === next) this.pumps.delete(deviceId) }, () => {})
  }

  /** Resends the command in flight when asked, else sends the oldest queued one. */
  private async deliver (deviceId: string, resend: boolean): Promise<void> {
    const { transitions, events } = this.deps
    if (this.closed || !this.ready.has(deviceId)) return
    const inFlight = await transitions.inFlight(deviceId)
    if (inFlight !== undefined) {
      if (resend) await this.publish(inFlight)
      return
    }
    const next = await transitions.nextQueued(deviceId)
    if (next === undefined) return
    const outcome = await transitions.markSent(next, this.sign)
    if (outcome === null) return
    if ('failed' in outcome) {
      events.finished(outcome.failed) // its end calls `nudge`: the device's next command is tried
      return
    }
    events.emit(outcome.sent)
    await this.publish(outcome.sent)
  }

  private async publish (row: CommandRow): Promise<void> {
    const message: CommandMessage = { id: row.id, op: row.op, expiresAt: row.expiresAt.toISOString() }
    if (row.iccid !== null) message.iccid = row.iccid
    if (row.activationCode !== null) message.activationCode = row.activationCode
    if (row.euiccPackageRequest !== null) message.euiccPackageRequest = Buffer.from(row.euiccPackageRequest).toString('base64')
    await this.deps.send(topics.command(row.deviceId, row.id), JSON.stringify(message), row.deliveries > 0)
    this.deps.metrics?.commandDeliveries.inc()
    await this.deps.transitions.countDelivery(row.id)
  }
}
