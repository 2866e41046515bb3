// One simulated device's MQTT connection: connects as the device (TCP, TLS or WebSocket, with a will of
// status "offline"), subscribes to what the device listens to, says "online", and reconnects with
// exponential backoff and full jitter until stopped. What the device does once online is the owner's
// (device-sim/sim-device.ts), through `onOnline` and `onMessage`.
import { connect as netConnect, isIP } from 'node:net'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { connect as tlsConnect } from 'node:tls'
import mqtt, { MqttClient } from 'mqtt'
import type { IClientOptions } from 'mqtt'
import { topics } from '../protocol/topics.ts'
import type { Random } from './random.ts'
import type { SimStats } from './sim-stats.ts'

export interface TlsSettings { ca?: string | Buffer, rejectUnauthorized: boolean }

export interface DeviceConnectionOptions {
  id: string
  secret: string
  mqttUrl: string
  keepaliveSeconds: number
  /** How long to wait for the CONNACK before giving up on an attempt (default 15 s). */
  connectTimeoutMs?: number
  /** Topic filters subscribed to (QoS 1) on every connection. */
  subscriptions: string[]
  stats: SimStats
  rng: Random
  localAddress?: string
  tls?: TlsSettings
  reconnect?: { minMs: number, maxMs: number }
  /** Runs `fn` after `ms` unless the device has stopped (the device's timers). */
  later: (fn: () => void, ms: number) => void
  /** Called the first time the device is connected. */
  onFirstConnect?: () => void
  /** Every time a connection is accepted, after the subscriptions and the "online" status are sent. */
  onOnline: () => void
  onMessage: (topic: string, payload: Buffer) => void
}

const STOP_TIMEOUT_MS = 3000
const CONNACK_ERRORS: Record<number, string> = { 1: 'protocol-refused', 2: 'identifier-rejected', 3: 'server-unavailable', 4: 'bad-credentials', 5: 'not-authorized' }

export class DeviceConnection {
  private client: MqttClient | null = null
  private isOnline = false
  private stopped = false
  private everConnected = false
  private attempt = 0
  /** The current connection attempt reported an error (so its close needs no error of its own). */
  private errored = false

  constructor (private readonly o: DeviceConnectionOptions) {}

  get online (): boolean { return this.isOnline }

  connect (): void {
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
    client.on('message', (topic, payload) => this.o.onMessage(topic, payload))
    client.on('error', (err: Error & { code?: string | number }) => {
      this.errored = true
      const code = err.code
      stats.error(typeof code === 'number' ? 'connack:' + (CONNACK_ERRORS[code] ?? code) : 'socket:' + (code ?? err.message.slice(0, 40)))
    })
    client.on('close', () => this.onClose(client))
  }

  /** Says goodbye (status "offline", DISCONNECT), waiting a little for in-flight PUBACKs, and stays down. */
  async stop (): Promise<void> {
    this.stopped = true
    const client = this.client
    if (client === null) return
    // Read before the goodbye: its DISCONNECT closes the connection, and then the device is offline too.
    const connecting = !this.isOnline
    if (this.isOnline) {
      await withTimeout(new Promise<void>((resolve) => {
        client.publish(topics.status(this.o.id), 'offline', { qos: 1 }, () => resolve())
      }), STOP_TIMEOUT_MS)
      await withTimeout(new Promise<void>((resolve) => { client.end(false, {}, () => resolve()) }), STOP_TIMEOUT_MS)
    }
    this.markOffline(client, true)
    // An attempt still waiting for its CONNACK when the run stops is a failed one, counted now (its socket
    // closes after the summary is taken); its close is then not counted again.
    if (connecting) {
      this.o.stats.count('connectFailures')
      this.client = null
    }
    client.end(true)
  }

  /** Publishes as the device; `done` gets an error when offline or not acknowledged. */
  publish (topic: string, payload: string | Buffer, qos: 0 | 1, done: (err?: Error) => void): void {
    const client = this.client
    if (client === null || !this.isOnline) { done(new Error('offline')); return }
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

  /** Drops the TCP connection without DISCONNECT (the `disconnect` fault). */
  drop (): void {
    const stream = this.client?.stream as Socket | undefined
    stream?.destroy()
  }

  private createClient (): MqttClient {
    const url = new URL(this.o.mqttUrl)
    const will = { topic: topics.status(this.o.id), payload: Buffer.from('offline'), qos: 1 as const, retain: false }
    const options: IClientOptions = {
      clientId: this.o.id,
      username: this.o.id,
      password: this.o.secret,
      clean: true,
      protocolVersion: 4,
      keepalive: this.o.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: this.o.connectTimeoutMs ?? 15_000,
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
    this.isOnline = true
    this.attempt = 0
    if (!this.everConnected) {
      this.everConnected = true
      stats.everConnected++
      this.o.onFirstConnect?.()
    }
    client.subscribe(this.o.subscriptions, { qos: 1 }, (err, granted) => {
      if (err !== null && err !== undefined) stats.error('subscribe:' + err.message.slice(0, 40))
      else if (granted?.some((g) => g.qos === 128)) stats.error('subscribe:refused')
    })
    this.publish(topics.status(this.o.id), 'online', 1, () => {})
    this.o.onOnline()
  }

  private onClose (client: MqttClient): void {
    if (this.client !== client) return
    const wasOnline = this.isOnline
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
    if (this.isOnline && this.client === client) {
      this.isOnline = false
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
    this.o.later(() => this.connect(), Math.round(this.o.rng.between(minMs / 2, ceiling)))
  }
}

async function withTimeout (promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([promise, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}
