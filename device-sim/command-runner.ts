// One simulated device's command handling: a delivered command runs once (a repeat is answered from the
// results remembered), one at a time as on a real eUICC (device-sim/command-handler.ts executes it), and
// its result is published on `commands/{commandId}/result`, kept while offline and sent on reconnect.
import { topics } from '../protocol/topics.ts'
import { executeCommand, parseCommand } from './command-handler.ts'
import type { CommandContext, CommandOutcome, CommandResult } from './command-handler.ts'
import type { DeviceConnection } from './device-connection.ts'
import type { SimStats } from './sim-stats.ts'

const MAX_UNSENT_RESULTS = 32
const REMEMBERED_RESULTS = 64

export interface CommandRunnerOptions {
  id: string
  stats: SimStats
  context: CommandContext
  /** Whether the device has stopped (a result is then remembered but not published). */
  stopped: () => boolean
  /** After a command ran on the eUICC, before its result is published. */
  onExecuted: (outcome: CommandOutcome, enabledBefore: string | undefined) => void
  /** After its result is published. */
  onAnswered: () => void
}

export class CommandRunner {
  private readonly results = new Map<string, CommandResult>()
  private readonly running = new Set<string>()
  private unsent: Array<{ commandId: string, result: CommandResult }> = []
  private chain: Promise<void> = Promise.resolve()

  constructor (private readonly o: CommandRunnerOptions, private readonly connection: DeviceConnection) {}

  /** Runs a delivered command (once: a repeat is answered from memory) and publishes its result. */
  run (commandId: string, payload: Buffer): void {
    // A device that has said goodbye runs nothing more: a delivery that reaches it while it disconnects
    // is sent again when it is back (the hub resends until it has the result). Run now, its result would
    // be kept by a device that is going away, and the eUICC would refuse the resent package as a replay.
    if (this.o.stopped()) return
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
    this.chain = this.chain.then(async () => {
      const parsed = parseCommand(payload, commandId)
      const before = this.o.context.euicc.enabledProfile?.iccid
      const outcome: CommandOutcome = parsed.ok ? await executeCommand(parsed.command, this.o.context) : parsed.outcome
      this.running.delete(commandId)
      this.remember(commandId, outcome.result)
      stats.count(outcome.result.status === 'ok' ? 'commandsOk' : 'commandsFailed')
      if (this.o.stopped()) return
      this.o.onExecuted(outcome, before)
      this.publishResult(commandId, outcome.result)
      this.o.onAnswered()
    }).catch((err: Error) => {
      this.running.delete(commandId)
      stats.error('command:' + err.message.slice(0, 40))
    })
  }

  /** Publishes the results kept while offline (on a new connection). */
  resendUnsent (): void {
    const unsent = this.unsent
    this.unsent = []
    for (const { commandId, result } of unsent) this.publishResult(commandId, result)
  }

  private remember (commandId: string, result: CommandResult): void {
    this.results.set(commandId, result)
    if (this.results.size > REMEMBERED_RESULTS) this.results.delete(this.results.keys().next().value!)
  }

  private publishResult (commandId: string, result: CommandResult): void {
    const keep = () => {
      this.unsent.push({ commandId, result })
      if (this.unsent.length > MAX_UNSENT_RESULTS) this.unsent.shift()
    }
    if (!this.connection.online) { keep(); return }
    this.connection.publish(topics.commandResult(this.o.id, commandId), JSON.stringify(result), 1, (err) => { if (err !== undefined) keep() })
  }
}
