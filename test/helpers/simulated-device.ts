// The simulator's device (device-sim/sim-device.ts: its EuiccModel, command handler and SGP.32 package
// handling) on a test hub, with what a test needs around it: the commands it was sent, a gate that holds
// a command so the test decides when (or whether) it is answered, answers and publishes made by hand, and
// a connection that can be dropped and made again (to another hub) with the eUICC's state kept.
import { createPublicKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { executeCommand } from '../../device-sim/command-handler.ts'
import type { CommandResult, DeviceCommand } from '../../device-sim/command-handler.ts'
import type { EimTrust } from '../../device-sim/eim-package.ts'
import type { EuiccModel } from '../../device-sim/euicc-model.ts'
import type { Faults } from '../../device-sim/faults.ts'
import type { FleetDevice } from '../../device-sim/fleet-file.ts'
import type { SimProfile } from '../../device-sim/identity.ts'
import { Random } from '../../device-sim/random.ts'
import { SimDevice } from '../../device-sim/sim-device.ts'
import { SimStats } from '../../device-sim/sim-stats.ts'
import { topics } from '../../protocol/topics.ts'
import { eventually } from './eventually.ts'
import type { DeviceCredentials } from './test-hub.ts'

export interface ReceivedCommand { topic: string, message: Record<string, any>, payload: Buffer }

export interface SimulatedDeviceOptions {
  mqttUrl: string
  credentials: DeviceCredentials
  eid: string
  /** The eUICC's key and certificate, and its EUM's certificate (sent in its notifications). */
  euicc: { privateKey: KeyObject, certificateDer: Uint8Array, eumCertificateDer: Uint8Array }
  /** The hub's eIM (GET /api/eim), for SGP.32 packages. */
  eim?: { eimId: string, publicKey: string } | null
  profiles: SimProfile[]
  /** Sees each command delivery first: 'hold' leaves it unanswered until `release()`. */
  behaviour?: (command: Record<string, any>) => 'run' | 'hold'
  /** The simulator's faults (e.g. `fail-ops: 1`: the eUICC refuses every operation). */
  faults?: Faults
  downloadMs?: number
}

/** How long a connection may take before the test fails (a loaded machine is slow, never this slow). */
const CONNECT_TIMEOUT_MS = 30_000

export class SimulatedDevice {
  readonly received: ReceivedCommand[] = []
  readonly held: ReceivedCommand[] = []
  readonly stats = new SimStats()
  private sim: SimDevice
  private started = false
  private readonly eim: EimTrust | null
  private readonly rng = new Random()

  constructor (readonly options: SimulatedDeviceOptions) {
    const { credentials } = options
    if (credentials.username !== credentials.clientId) throw new Error('the simulator signs in with its client id as user name')
    this.eim = options.eim === undefined || options.eim === null ? null : { eimId: options.eim.eimId, publicKey: createPublicKey(options.eim.publicKey) }
    this.sim = this.build({
      id: credentials.clientId,
      secret: credentials.password,
      name: credentials.clientId,
      eid: options.eid,
      imei: '356938035643809',
      esimAgent: options.eim === undefined || options.eim === null ? 'lpa' : 'ipa',
      euiccKey: options.euicc.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      euiccCertificate: Buffer.from(options.euicc.certificateDer).toString('base64'),
      profiles: options.profiles.map((p) => ({ ...p })),
      nextSeqNumber: 1,
      eimCounter: 0,
      pendingNotifications: []
    })
  }

  get id (): string { return this.options.credentials.clientId }
  get eid (): string { return this.options.eid }
  /** The eUICC as it is now (profiles, eIM counter, pending notifications). */
  get euicc (): EuiccModel { return this.sim.euicc }
  get profiles (): readonly SimProfile[] { return this.sim.euicc.profiles }
  /** Commands the device ran (each once, however often it was delivered). */
  get runs (): number { return this.stats.counters.commandsOk + this.stats.counters.commandsFailed }

  /** Connects (to `mqttUrl`, or the URL it was given) and resolves once the hub accepted the connection;
   * after `disconnect()` this is a new connection of the same device, its eUICC state kept. */
  async connect (mqttUrl = this.options.mqttUrl): Promise<void> {
    if (this.started || mqttUrl !== this.options.mqttUrl) {
      await this.sim.stop()
      this.options.mqttUrl = mqttUrl
      this.sim = this.build(this.sim.state())
    }
    this.started = true
    this.sim.start()
    await eventually('the device connected to ' + mqttUrl, () => this.sim.connected, CONNECT_TIMEOUT_MS)
  }

  /** Says goodbye (status offline, DISCONNECT) and closes the connection. */
  async disconnect (): Promise<void> {
    await this.sim.stop()
  }

  /** Resolves with the first delivery (received already or to come) that matches. */
  async waitForCommand (match: (c: ReceivedCommand) => boolean = () => true, timeoutMs = 20_000): Promise<ReceivedCommand> {
    return await eventually('a matching command', () => this.received.find(match), timeoutMs)
  }

  /** Runs a held command now, as the device would have (and answers it). */
  async release (commandId: string): Promise<void> {
    const i = this.held.findIndex((h) => h.message.id === commandId)
    if (i < 0) throw new Error('not held: ' + commandId)
    const [held] = this.held.splice(i, 1)
    this.sim.runCommand(commandId, held!.payload)
  }

  /** Publishes `result` as this device's answer to `commandId`. */
  async answer (commandId: string, result: object): Promise<void> {
    await this.sim.publishRaw(topics.commandResult(this.id, commandId), JSON.stringify(result))
  }

  /** Publishes as this device, QoS 1. */
  async publish (topic: string, payload: string | Buffer): Promise<void> {
    await this.sim.publishRaw(topic, payload)
  }

  /** What the eUICC answers to `message` (by default this device's eUICC, which the command changes),
   * without publishing it. */
  async run (message: Record<string, any>, euicc: EuiccModel = this.sim.euicc): Promise<CommandResult> {
    const outcome = await executeCommand(message as DeviceCommand, { euicc, rng: this.rng, faults: {}, downloadMs: 0, eim: this.eim })
    return outcome.result
  }

  private build (record: FleetDevice): SimDevice {
    return new SimDevice({
      record,
      mqttUrl: this.options.mqttUrl,
      eumCertificateDer: this.options.euicc.eumCertificateDer,
      eim: this.eim,
      stats: this.stats,
      rng: this.rng.fork(),
      qos: 1,
      // No telemetry or local profile switches during a command test: the device does what it is told.
      intervalMs: 3_600_000,
      keepaliveSeconds: 30,
      bufferLimit: 100,
      notifyIntervalMs: 0,
      downloadMs: this.options.downloadMs ?? 20,
      faults: this.options.faults ?? {},
      notificationQueue: 32,
      reconnect: { minMs: 100, maxMs: 1000 },
      commandGate: (commandId, payload) => {
        let message: Record<string, any> = {}
        try { message = JSON.parse(payload.toString('utf8')) } catch {}
        const received = { topic: topics.command(this.id, commandId), message: { id: commandId, ...message }, payload }
        this.received.push(received)
        if ((this.options.behaviour?.(received.message) ?? 'run') === 'run') return 'run'
        this.held.push(received)
        return 'hold'
      }
    })
  }
}
