// One simulated device on MQTT (DESIGN.md "MQTT contract"): connects as itself, reports status and
// inventory, publishes telemetry (buffered while offline), publishes its eUICC's notifications and keeps
// each until `notifications/ack` names its seqNumber, executes commands and answers on `.../result`, and
// reconnects with exponential backoff and jitter.
import { connect as netConnect, isIP } from 'node:net'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { connect as tlsConnect } from 'node:tls'
import mqtt, { MqttClient } from 'mqtt'
import type { IClientOptions } from 'mqtt'
import type { TelemetrySample } from '../protocol/telemetry.ts'
import { MAX_SAMPLES_PER_MESSAGE } from '../protocol/telemetry.ts'
import { topics } from '../protocol/topics.ts'
import { carrierOfIccid, CARRIERS } from './carriers.ts'
import type { Carrier } from './carriers.ts'
import { executeCommand, parseCommand, profilesData } from './command-handler.ts'
import type { CommandOutcome, CommandResult } from './command-handler.ts'
import type { EimTrust } from './eim-package.ts'
import { EuiccModel } from './euicc-model.ts'
import type { PendingNotification } from './euicc-model.ts'
import type { Faults } from './faults.ts'
import { deviceKeys } from './fleet-file.ts'
import type { FleetDevice } from './fleet-file.ts'
import { RadioModel } from './radio-model.ts'
import type { Random } from './random.ts'
import type { SimStats } from './sim-stats.ts'

export interface TlsSettings { ca?: string | Buffer, rejectUnauthorized: boolean }

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
}

const MAX_TELEMETRY_INFLIGHT = 8
const MAX_UNSENT_RESULTS = 32
const REMEMBERED_RESULTS = 64
const STOP_TIMEOUT_MS = 3000
const CONNACK_ERRORS: Record<number, string> = { 1: 'protocol-refused', 2: 'identifier-rejected', 3: 'server-unavailable', 4: 'bad-credentials', 5: 'not-authorized' }

export class SimDevice {
  readonly id: string
  readonly euicc: EuiccModel
  private readonly record: FleetDevice
  private readonly o: SimDeviceOptions
  private readonly radio: RadioModel
  private readonly carriers: readonly Carrier[]
  private client: MqttClient | null = null
  private online = false
  private stopped = false
  private everConnected = false
  private attempt = 0
  /** The current connection attempt reported an error (so its close needs no error of its own). */
  private errored = false
  private seq = 0
  private buffer: TelemetrySample[] = []
  private telemetryInflight = 0
  private readonly sentOnConnection = new Set<number>()
  private readonly results = new Map<string, CommandResult>()
  private readonly running = new Set<string>()
  private unsentResults: Array<{ commandId: string, result: CommandResult }> = []
  private inventoryDirty = true
  private commandChain: Promise<void> = Promise.resolve()
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
  }

  get connected (): boolean { return this.online }

  /** Starts the telemetry clock and the first connection. A fresh eUICC (never reported anything) gets a
   * notification for its enabled profile, as after first activation. */
  start (): void {
    if (this.record.nextSeqNumber <= 1 && this.euicc.pending.length === 0) {
      const enabled = this.euicc.enabledProfile
      if (enabled !== undefined) this.created([this.euicc.notify('enable', enabled.iccid)])
    }
    this.later(() => this.telemetryTick(), this.o.rng.int(0, this.o.intervalMs))
    if (this.o.notifyIntervalMs > 0) this.later(() => this.profileSwitchTick(), this.jittered(this.o.notifyIntervalMs))
    this.connect()
  }

  /** Stops timers, says goodbye (status "offline", DISCONNECT) and waits a little for in-flight PUBACKs. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    const client = this.client
    if (client === null) return
    if (this.online) {
      await withTimeout(new Promise<void>((resolve) => {
        client.publish(topics.status(this.id), 'offline', { qos: 1 }, () => resolve())
      }), STOP_TIMEOUT_MS)
      await withTimeout(new Promise<void>((resolve) => { client.end(false, {}, () => resolve()) }), STOP_TIMEOUT_MS)
    }
    client.end(true)
    this.markOffline(client, true)
  }

  /** The device record with the eUICC state as it is now, for the fleet file. */
  state (): FleetDevice {
    return { ...this.record, ...this.euicc.state() }
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

  // --- connection ---------------------------------------------------------------------------------

  private connect (): void {
    if (this.stopped) return
    const stats = this.o.stats
    stats.count('connectAttempts')
    stats.firstAttemptAt ??= Date.now()
    const startedAt = performance.now()
    let client: MqttClient
    try {
      client = this.createClient()
    } catch (err) {
      stats.error('connect:' + ((err as NodeJS.ErrnoException).code ?? 'failed'))
      this.scheduleReconnect()
      return
    }
    this.client = client
    client.on('connect', () => this.onConnect(client, startedAt))
    client.on('message', (topic, payload) => this.onMessage(topic, payload))
    client.on('error', (err: Error & { code?: string | number }) => {
      this.errored = true
      const code = err.code
      stats.error(typeof code === 'number' ? 'connack:' + (CONNACK_ERRORS[code] ?? code) : 'socket:' + (code ?? err.message.slice(0, 40)))
    })
    client.on('close', () => this.onClose(client))
  }

  private createClient (): MqttClient {
    const url = new URL(this.o.mqttUrl)
    const will = { topic: topics.status(this.id), payload: Buffer.from('offline'), qos: 1 as const, retain: false }
    const options: IClientOptions = {
      clientId: this.id,
      username: this.id,
      password: this.record.secret,
      clean: true,
      protocolVersion: 4,
      keepalive: this.o.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      resubscribe: false,
      will
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const localAddress = this.o.localAddress
    switch (url.protocol) {
      case 'mqtt:':
      case 'tcp:': {
        const port = Number(url.port || 1883)
        return new MqttClient(() => netConnect({ host, port, noDelay: true, ...(localAddress === undefined ? {} : { localAddress }) }), options)
      }
      case 'mqtts:':
      case 'ssl:': {
        const port = Number(url.port || 8883)
        const tls = this.o.tls ?? { rejectUnauthorized: true }
        return new MqttClient(() => tlsConnect({
          host,
          port,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...(localAddress === undefined ? {} : { localAddress }),
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          rejectUnauthorized: tls.rejectUnauthorized
        }), options)
      }
      default:
        return mqtt.connect(this.o.mqttUrl, { ...options, ...(this.o.tls === undefined ? {} : { ca: this.o.tls.ca, rejectUnauthorized: this.o.tls.rejectUnauthorized }) })
    }
  }

  private onConnect (client: MqttClient, startedAt: number): void {
    if (this.client !== client || this.stopped) return
    const stats = this.o.stats
    stats.count('connects')
    stats.latency('connect', performance.now() - startedAt)
    stats.connected++
    this.online = true
    this.attempt = 0
    this.sentOnConnection.clear()
    if (!this.everConnected) {
      this.everConnected = true
      stats.everConnected++
      this.o.onFirstConnect?.()
    }
    client.subscribe([topics.command(this.id, '+'), topics.notificationAck(this.id)], { qos: 1 }, (err, granted) => {
      if (err !== null && err !== undefined) stats.error('subscribe:' + err.message.slice(0, 40))
      else if (granted?.some((g) => g.qos === 128)) stats.error('subscribe:refused')
    })
    this.publish(topics.status(this.id), 'online', 1, () => {})
    if (this.inventoryDirty) this.publishInventory()
    this.sendNotifications()
    const unsent = this.unsentResults
    this.unsentResults = []
    for (const { commandId, result } of unsent) this.publishResult(commandId, result)
    this.flushTelemetry()
  }

  private onClose (client: MqttClient): void {
    if (this.client !== client) return
    const wasOnline = this.online
    this.markOffline(client)
    client.removeAllListeners('message')
    client.end(true) // fails the callbacks of unacknowledged publishes, which requeue their data
    if (!wasOnline) {
      this.o.stats.count('connectFailures')
      if (!this.errored) this.o.stats.error('connect:closed-without-connack')
    }
    this.errored = false
    this.client = null
    this.scheduleReconnect()
  }

  /** `expected`: our own goodbye at the end of a run, not counted as a disconnect. */
  private markOffline (client: MqttClient, expected = false): void {
    if (this.online && this.client === client) {
      this.online = false
      this.o.stats.connected--
      if (!expected && !this.stopped) this.o.stats.count('disconnects')
    }
  }

  /** Exponential backoff with full jitter: a fleet that lost its hub does not come back all at once. */
  private scheduleReconnect (): void {
    if (this.stopped) return
    const { minMs, maxMs } = this.o.reconnect ?? { minMs: 1000, maxMs: 60_000 }
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.attempt, 20))
    this.attempt++
    this.later(() => this.connect(), Math.round(this.o.rng.between(minMs / 2, ceiling)))
  }

  /** Drops the TCP connection without DISCONNECT (the `disconnect` fault). */
  private dropConnection (): void {
    const stream = this.client?.stream as Socket | undefined
    stream?.destroy()
  }

  private publish (topic: string, payload: string, qos: 0 | 1, done: (err?: Error) => void): void {
    const client = this.client
    if (client === null || !this.online) { done(new Error('offline')); return }
    const stats = this.o.stats
    stats.count('published')
    const t0 = performance.now()
    client.publish(topic, payload, { qos }, (err) => {
      if (err !== undefined && err !== null) {
        stats.count('publishErrors')
        done(err)
        return
      }
      if (qos === 1) {
        stats.count('acked')
        stats.latency('ack', performance.now() - t0)
      }
      done()
    })
  }

  // --- telemetry ----------------------------------------------------------------------------------

  private telemetryTick (): void {
    this.later(() => this.telemetryTick(), this.o.intervalMs)
    if (this.online && this.o.rng.chance(this.o.faults.disconnect ?? 0)) this.dropConnection()
    this.buffer.push(this.radio.sample(Date.now(), this.seq++))
    const excess = this.buffer.length - this.o.bufferLimit
    if (excess > 0) {
      this.buffer.splice(0, excess)
      this.o.stats.count('samplesDropped', excess)
    }
    this.flushTelemetry()
  }

  private flushTelemetry (): void {
    const maxBatch = Math.min(this.o.maxBatch ?? 100, MAX_SAMPLES_PER_MESSAGE)
    while (this.online && this.buffer.length > 0 && this.telemetryInflight < MAX_TELEMETRY_INFLIGHT) {
      const batch = this.buffer.splice(0, maxBatch)
      this.telemetryInflight++
      this.o.stats.count('telemetryMessages')
      this.publish(topics.telemetry(this.id), JSON.stringify(batch.length === 1 ? batch[0] : batch), this.o.qos, (err) => {
        this.telemetryInflight--
        if (err === undefined) {
          this.o.stats.count('samplesSent', batch.length)
        } else if (this.o.qos === 1) {
          // Not acknowledged: keep for the next connection (the hub deduplicates a resend).
          this.buffer.unshift(...batch)
        } else {
          this.o.stats.count('samplesDropped', batch.length)
        }
        if (err === undefined) this.flushTelemetry()
      })
    }
  }

  // --- notifications ------------------------------------------------------------------------------

  private created (notifications: readonly PendingNotification[]): void {
    this.o.stats.count('notificationsCreated', notifications.length)
  }

  /** Publishes every pending notification not yet sent on this connection. */
  private sendNotifications (): void {
    if (!this.online) return
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
        this.publish(topics.notifications(this.id), payload, 1, (err) => {
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

  // --- commands and inventory ---------------------------------------------------------------------

  private onMessage (topic: string, payload: Buffer): void {
    if (topic === topics.notificationAck(this.id)) {
      this.onAck(payload)
      return
    }
    const prefix = `devices/${this.id}/commands/`
    if (!topic.startsWith(prefix)) return
    const commandId = topic.slice(prefix.length)
    if (commandId === '' || commandId.includes('/')) return
    this.onCommand(commandId, payload)
  }

  private onCommand (commandId: string, payload: Buffer): void {
    const stats = this.o.stats
    stats.count('commandsReceived')
    const known = this.results.get(commandId)
    if (known !== undefined) {
      // Delivered again (the hub resends until it has the result): answer again, do not run it twice.
      stats.count('commandsRepeated')
      this.publishResult(commandId, known)
      return
    }
    if (this.running.has(commandId)) {
      stats.count('commandsRepeated')
      return
    }
    this.running.add(commandId)
    // One operation at a time, as on a real eUICC.
    this.commandChain = this.commandChain.then(async () => {
      const parsed = parseCommand(payload, commandId)
      const before = this.euicc.enabledProfile?.iccid
      const outcome: CommandOutcome = parsed.ok
        ? await executeCommand(parsed.command, { euicc: this.euicc, rng: this.o.rng, faults: this.o.faults, downloadMs: this.o.downloadMs, eim: this.o.eim })
        : parsed.outcome
      this.running.delete(commandId)
      this.remember(commandId, outcome.result)
      stats.count(outcome.result.status === 'ok' ? 'commandsOk' : 'commandsFailed')
      if (this.stopped) return
      this.created(outcome.notifications)
      if (this.euicc.enabledProfile?.iccid !== before) this.radio.attach(this.servingCarrier())
      if (outcome.inventoryChanged) this.publishInventory()
      this.publishResult(commandId, outcome.result)
      this.sendNotifications()
    }).catch((err: Error) => {
      this.running.delete(commandId)
      stats.error('command:' + err.message.slice(0, 40))
    })
  }

  private remember (commandId: string, result: CommandResult): void {
    this.results.set(commandId, result)
    if (this.results.size > REMEMBERED_RESULTS) this.results.delete(this.results.keys().next().value!)
  }

  private publishResult (commandId: string, result: CommandResult): void {
    const keep = () => {
      this.unsentResults.push({ commandId, result })
      if (this.unsentResults.length > MAX_UNSENT_RESULTS) this.unsentResults.shift()
    }
    if (!this.online) { keep(); return }
    this.publish(topics.commandResult(this.id, commandId), JSON.stringify(result), 1, (err) => { if (err !== undefined) keep() })
  }

  private publishInventory (): void {
    this.inventoryDirty = true
    if (!this.online) return
    this.o.stats.count('inventoryReports')
    this.publish(topics.inventory(this.id), JSON.stringify(profilesData(this.euicc)), 1, (err) => {
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

async function withTimeout (promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([promise, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}
