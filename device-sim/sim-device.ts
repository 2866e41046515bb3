// One simulated device on MQTT (DESIGN.md "MQTT contract"): connects as itself, reports status and
// inventory, publishes telemetry (buffered while offline), publishes its eUICC's notifications and keeps
// each until `notifications/ack` names its seqNumber, executes commands and answers on `.../result`, and
// reconnects with exponential backoff and jitter. The pieces: device-connection.ts (the MQTT connection
// and reconnects), telemetry-loop.ts (samples and their buffer), command-runner.ts (commands and their
// results); this file owns the eUICC, its notifications and inventory, and the timers.
import { performance } from 'node:perf_hooks'
import { topics } from '../protocol/topics.ts'
import { carrierOfIccid, CARRIERS } from './carriers.ts'
import type { Carrier } from './carriers.ts'
import { profilesData } from './command-handler.ts'
import type { CommandOutcome } from './command-handler.ts'
import { CommandRunner } from './command-runner.ts'
import { DeviceConnection } from './device-connection.ts'
import type { TlsSettings } from './device-connection.ts'
import type { EimTrust } from './eim-package.ts'
import { EuiccModel } from './euicc-model.ts'
import type { PendingNotification } from './euicc-model.ts'
import type { Faults } from './faults.ts'
import { deviceKeys } from './fleet-file.ts'
import type { FleetDevice } from './fleet-file.ts'
import { RadioModel } from './radio-model.ts'
import type { Random } from './random.ts'
import type { SimStats } from './sim-stats.ts'
import { TelemetryLoop } from './telemetry-loop.ts'

export type { TlsSettings } from './device-connection.ts'

export interface SimDeviceOptions {
  record: FleetDevice
  mqttUrl: string
  eumCertificateDer: Uint8Array
  eim: EimTrust | null
  stats: SimStats
  rng: Random
  qos: 0 | 1
  /** Telemetry period, ms. */
  intervalMs: number
  keepaliveSeconds: number
  /** How long to wait for the CONNACK (default 15 s). */
  connectTimeoutMs?: number
  /** Samples kept while offline; the oldest are dropped past it. */
  bufferLimit: number
  /** Samples per message when catching up (default 100). */
  maxBatch?: number
  /** A local profile switch (with its notifications) every so often, ms; 0 = never. */
  notifyIntervalMs: number
  downloadMs: number
  faults: Faults
  notificationQueue: number
  carriers?: readonly Carrier[]
  localAddress?: string
  tls?: TlsSettings
  reconnect?: { minMs: number, maxMs: number }
  /** Called the first time the device is connected. */
  onFirstConnect?: () => void
  /** Sees every command delivery first; 'hold' leaves it unanswered (a test runs it later with
   * runCommand, or answers by hand). Default: run. */
  commandGate?: (commandId: string, payload: Buffer) => 'run' | 'hold'
}

export class SimDevice {
  readonly id: string
  readonly euicc: EuiccModel
  private readonly record: FleetDevice
  private readonly o: SimDeviceOptions
  private readonly radio: RadioModel
  private readonly carriers: readonly Carrier[]
  private readonly connection: DeviceConnection
  private readonly telemetry: TelemetryLoop
  private readonly commands: CommandRunner
  private stopped = false
  private readonly sentOnConnection = new Set<number>()
  private inventoryDirty = true
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (options: SimDeviceOptions) {
    this.o = options
    this.record = options.record
    this.id = options.record.id
    this.carriers = options.carriers ?? CARRIERS
    const keys = deviceKeys(options.record)
    this.euicc = new EuiccModel({
      eid: options.record.eid,
      privateKey: keys.privateKey,
      certificateDer: keys.certificateDer,
      eumCertificateDer: options.eumCertificateDer,
      state: options.record,
      queueLimit: options.notificationQueue,
      faults: options.faults,
      rng: options.rng,
      carriers: this.carriers
    })
    this.radio = new RadioModel(options.rng, this.servingCarrier())
    this.connection = new DeviceConnection({
      id: this.id,
      secret: options.record.secret,
      mqttUrl: options.mqttUrl,
      keepaliveSeconds: options.keepaliveSeconds,
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      subscriptions: [topics.command(this.id, '+'), topics.notificationAck(this.id)],
      stats: options.stats,
      rng: options.rng,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
      ...(options.onFirstConnect === undefined ? {} : { onFirstConnect: options.onFirstConnect }),
      later: (fn, ms) => this.later(fn, ms),
      onOnline: () => this.onOnline(),
      onMessage: (topic, payload) => this.onMessage(topic, payload)
    })
    this.telemetry = new TelemetryLoop({
      id: this.id,
      qos: options.qos,
      bufferLimit: options.bufferLimit,
      ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
      stats: options.stats
    }, this.radio, this.connection)
    this.commands = new CommandRunner({
      id: this.id,
      stats: options.stats,
      context: { euicc: this.euicc, rng: options.rng, faults: options.faults, downloadMs: options.downloadMs, eim: options.eim },
      stopped: () => this.stopped,
      onExecuted: (outcome, before) => this.onCommandExecuted(outcome, before),
      onAnswered: () => this.sendNotifications()
    }, this.connection)
  }

  get connected (): boolean { return this.connection.online }

  /** Starts the telemetry clock and the first connection. A fresh eUICC (never reported anything) gets a
   * notification for its enabled profile, as after first activation. */
  start (): void {
    if (this.record.nextSeqNumber <= 1 && this.euicc.pending.length === 0) {
      const enabled = this.euicc.enabledProfile
      if (enabled !== undefined) this.created([this.euicc.notify('enable', enabled.iccid)])
    }
    this.later(() => this.telemetryTick(), this.o.rng.int(0, this.o.intervalMs))
    if (this.o.notifyIntervalMs > 0) this.later(() => this.profileSwitchTick(), this.jittered(this.o.notifyIntervalMs))
    this.connection.connect()
  }

  /** Stops timers, says goodbye (status "offline", DISCONNECT) and waits a little for in-flight PUBACKs. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    await this.connection.stop()
  }

  /** The device record with the eUICC state as it is now, for the fleet file. */
  state (): FleetDevice {
    return { ...this.record, ...this.euicc.state() }
  }

  /** Runs a delivered command (once: a repeat is answered from memory) and publishes its result. */
  runCommand (commandId: string, payload: Buffer): void {
    this.commands.run(commandId, payload)
  }

  /** Publishes `payload` as this device, QoS 1 (for tests that speak the protocol by hand); rejects when
   * offline or not acknowledged. */
  publishRaw (topic: string, payload: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connection.publish(topic, payload, 1, (err) => { if (err === undefined) resolve(); else reject(err) })
    })
  }

  private servingCarrier (): Carrier {
    const enabled = this.euicc.enabledProfile
    return (enabled === undefined ? undefined : carrierOfIccid(enabled.iccid, this.carriers) ?? carrierOfIccid(enabled.iccid)) ?? this.carriers[0] ?? CARRIERS[0]!
  }

  private later (fn: () => void, ms: number): void {
    if (this.stopped) return
    const t = setTimeout(() => { this.timers.delete(t); fn() }, ms)
    this.timers.add(t)
  }

  private jittered (ms: number): number {
    return Math.max(1, Math.round(ms * this.o.rng.between(0.8, 1.2)))
  }

  /** A new connection: everything the hub may have missed goes out again. */
  private onOnline (): void {
    this.sentOnConnection.clear()
    if (this.inventoryDirty) this.publishInventory()
    this.sendNotifications()
    this.commands.resendUnsent()
    this.telemetry.flush()
  }

  private onMessage (topic: string, payload: Buffer): void {
    if (topic === topics.notificationAck(this.id)) {
      this.onAck(payload)
      return
    }
    const prefix = `devices/${this.id}/commands/`
    if (!topic.startsWith(prefix)) return
    const commandId = topic.slice(prefix.length)
    if (commandId === '' || commandId.includes('/')) return
    if ((this.o.commandGate?.(commandId, payload) ?? 'run') === 'run') this.runCommand(commandId, payload)
  }

  private telemetryTick (): void {
    this.later(() => this.telemetryTick(), this.o.intervalMs)
    if (this.connection.online && this.o.rng.chance(this.o.faults.disconnect ?? 0)) this.connection.drop()
    this.telemetry.sample()
  }

  // --- notifications ------------------------------------------------------------------------------

  private created (notifications: readonly PendingNotification[]): void {
    this.o.stats.count('notificationsCreated', notifications.length)
  }

  /** Publishes every pending notification not yet sent on this connection. */
  private sendNotifications (): void {
    if (!this.connection.online) return
    let batch = this.euicc.pending.filter((n) => !this.sentOnConnection.has(n.seqNumber))
    if (batch.length > 1 && this.o.rng.chance(this.o.faults['out-of-order'] ?? 0)) batch = [...batch].reverse()
    const stats = this.o.stats
    for (const n of batch) {
      this.sentOnConnection.add(n.seqNumber)
      n.firstSentAt ??= performance.now()
      const payload = JSON.stringify({ pendingNotification: Buffer.from(n.der).toString('base64') })
      const copies = this.o.rng.chance(this.o.faults.duplicate ?? 0) ? 2 : 1
      for (let i = 0; i < copies; i++) {
        stats.count('notificationsSent')
        this.connection.publish(topics.notifications(this.id), payload, 1, (err) => {
          if (err !== undefined) { this.sentOnConnection.delete(n.seqNumber); return }
          if (n.delivered !== true) {
            n.delivered = true
            stats.count('notificationsDelivered')
          }
        })
      }
    }
  }

  private onAck (payload: Buffer): void {
    const stats = this.o.stats
    let ack: { seqNumber?: unknown, status?: unknown }
    try {
      ack = JSON.parse(payload.toString('utf8'))
    } catch {
      stats.error('ack:invalid-json')
      return
    }
    const seq = ack?.seqNumber
    const status = ack?.status
    if ((!Number.isSafeInteger(seq) && seq !== null) || (status !== 'accepted' && status !== 'duplicate' && status !== 'rejected')) {
      stats.error('ack:invalid')
      return
    }
    if (seq === null) {
      // The hub could not read a sequence number (an undecodable notification): nothing to remove.
      stats.count('unknownAcks')
      return
    }
    const n = this.euicc.acknowledge(seq as number)
    if (n === undefined) {
      stats.count('unknownAcks')
      return
    }
    if (n.firstSentAt !== undefined) stats.latency('notificationAck', performance.now() - n.firstSentAt)
    if (status === 'rejected') {
      stats.count('notificationsRejected')
    } else {
      stats.count('notificationsAcked')
      if (status === 'duplicate') stats.count('notificationsDuplicate')
    }
  }

  // --- inventory ----------------------------------------------------------------------------------

  private onCommandExecuted (outcome: CommandOutcome, enabledBefore: string | undefined): void {
    this.created(outcome.notifications)
    if (this.euicc.enabledProfile?.iccid !== enabledBefore) this.radio.attach(this.servingCarrier())
    if (outcome.inventoryChanged) this.publishInventory()
  }

  private publishInventory (): void {
    this.inventoryDirty = true
    if (!this.connection.online) return
    this.o.stats.count('inventoryReports')
    this.connection.publish(topics.inventory(this.id), JSON.stringify(profilesData(this.euicc)), 1, (err) => {
      if (err === undefined) this.inventoryDirty = false
    })
  }

  /** A local profile switch (the device's agent falling back to another network), with its notifications. */
  private profileSwitchTick (): void {
    this.later(() => this.profileSwitchTick(), this.jittered(this.o.notifyIntervalMs))
    const enabled = this.euicc.enabledProfile
    const others = this.euicc.profiles.filter((p) => p.state === 'disabled')
    const notifications: PendingNotification[] = []
    if (others.length > 0) {
      const outcome = this.euicc.enable(this.o.rng.pick(others).iccid)
      if (outcome.ok) notifications.push(...outcome.notifications)
    } else if (enabled !== undefined) {
      for (const outcome of [this.euicc.disable(enabled.iccid), this.euicc.enable(enabled.iccid)]) {
        if (outcome.ok) notifications.push(...outcome.notifications)
      }
    }
    if (notifications.length === 0) return
    this.created(notifications)
    this.radio.attach(this.servingCarrier())
    this.publishInventory()
    this.sendNotifications()
  }
}
