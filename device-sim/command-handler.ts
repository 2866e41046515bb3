// Executes a hub command (DESIGN.md topic `commands/{commandId}`) on the simulated eUICC and builds the
// answer for `commands/{commandId}/result`.
import { ResultCode, parseActivationCode } from './euicc-model.ts'
import type { EuiccModel, OperationOutcome, PendingNotification } from './euicc-model.ts'
import { processEuiccPackage } from './eim-package.ts'
import type { EimTrust } from './eim-package.ts'
import type { Faults } from './faults.ts'
import type { Random } from './random.ts'

export const COMMAND_OPS = ['enable', 'disable', 'delete', 'listProfiles', 'download', 'setFallback', 'unsetFallback'] as const
export type CommandOp = typeof COMMAND_OPS[number]

export interface DeviceCommand {
  id: string
  op: string
  iccid?: string
  activationCode?: string
  expiresAt?: string | number
  euiccPackageRequest?: string
}

export interface CommandResult {
  status: 'ok' | 'error'
  code?: string
  message?: string
  euiccPackageResult?: string
  data?: unknown
}

export interface CommandOutcome {
  result: CommandResult
  /** Notifications the operation produced (already kept by the eUICC until acknowledged). */
  notifications: PendingNotification[]
  inventoryChanged: boolean
}

export interface CommandContext {
  euicc: EuiccModel
  rng: Random
  faults: Faults
  /** How long a download takes, ms (±30 % jitter). */
  downloadMs: number
  /** The hub's eIM, for SGP.32 packages; null when unknown. */
  eim: EimTrust | null
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

const error = (code: string, message: string): CommandOutcome =>
  ({ result: { status: 'error', code, message }, notifications: [], inventoryChanged: false })

/** Parses a command payload; the topic's command id wins over a missing or different `id`. */
export function parseCommand (payload: Uint8Array, commandId: string): { ok: true, command: DeviceCommand } | { ok: false, outcome: CommandOutcome } {
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(payload).toString('utf8'))
  } catch {
    return { ok: false, outcome: error('invalid-command', 'the command is not JSON') }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json) || typeof (json as DeviceCommand).op !== 'string') {
    return { ok: false, outcome: error('invalid-command', 'the command has no "op"') }
  }
  const c = json as DeviceCommand
  for (const key of ['iccid', 'activationCode', 'euiccPackageRequest'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'string') return { ok: false, outcome: error('invalid-command', `"${key}" must be a string`) }
  }
  return { ok: true, command: { ...c, id: commandId } }
}

export function profilesData (euicc: EuiccModel): { eid: string, profiles: Array<{ iccid: string, state: string, name: string, spn: string, fallback?: boolean }> } {
  return {
    eid: euicc.eid,
    profiles: euicc.profiles.map((p) => ({ iccid: p.iccid, state: p.state, name: p.name, spn: p.spn, ...(p.fallback === true ? { fallback: true } : {}) }))
  }
}

export async function executeCommand (command: DeviceCommand, ctx: CommandContext): Promise<CommandOutcome> {
  const now = ctx.now?.() ?? Date.now()
  if (command.expiresAt !== undefined) {
    const expires = typeof command.expiresAt === 'number' ? command.expiresAt : Date.parse(command.expiresAt)
    if (Number.isFinite(expires) && expires < now) return error('expired', `the command expired at ${new Date(expires).toISOString()}`)
  }
  const { euicc } = ctx
  if (command.euiccPackageRequest !== undefined) {
    const der = new Uint8Array(Buffer.from(command.euiccPackageRequest, 'base64'))
    const outcome = processEuiccPackage(euicc, der, ctx.eim)
    const packageResult = Buffer.from(outcome.result).toString('base64')
    return {
      result: outcome.ok
        ? { status: 'ok', euiccPackageResult: packageResult, data: profilesData(euicc) }
        : { status: 'error', code: outcome.code ?? 'package-refused', message: outcome.message ?? 'the eUICC refused the package', euiccPackageResult: packageResult },
      notifications: outcome.notifications,
      inventoryChanged: outcome.inventoryChanged
    }
  }
  if (!(COMMAND_OPS as readonly string[]).includes(command.op)) return error('unsupported-op', `unknown operation "${command.op}"`)
  const op = command.op as CommandOp
  const needsIccid = op === 'enable' || op === 'disable' || op === 'delete' || op === 'setFallback'
  if (needsIccid && (command.iccid === undefined || !/^89\d{16,18}$/.test(command.iccid))) {
    return error('invalid-command', `${op} needs an "iccid" (18–20 digits starting with 89)`)
  }
  const failing = op !== 'listProfiles' && ctx.rng.chance(ctx.faults['fail-ops'] ?? 0)

  if (op === 'download') {
    const code = command.activationCode === undefined ? null : parseActivationCode(command.activationCode)
    if (code === null) return error('invalid-activation-code', 'download needs an "activationCode" LPA:1$<SM-DP+ address>$<matching id>')
    const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
    await sleep(Math.max(0, Math.round(ctx.downloadMs * ctx.rng.between(0.7, 1.3))))
    const fail = failing ? ctx.rng.pick([{ bppCommandId: 5, errorReason: 12 }, { bppCommandId: 0, errorReason: 8 }, { bppCommandId: 1, errorReason: 9 }]) : undefined
    const installed = euicc.install(code, fail)
    if (!installed.ok) {
      return { result: { status: 'error', code: installed.code, message: installed.message, data: { errorReason: installed.errorReason } }, notifications: [installed.notification], inventoryChanged: false }
    }
    return { result: { status: 'ok', data: { iccid: installed.profile.iccid, ...profilesData(euicc) } }, notifications: [installed.notification], inventoryChanged: true }
  }
  if (op === 'listProfiles') return { result: { status: 'ok', data: profilesData(euicc) }, notifications: [], inventoryChanged: false }
  if (failing) {
    return ctx.rng.chance(0.5)
      ? error('cat-busy', `the eUICC is busy (result ${ResultCode.catBusy}); try again`)
      : error('disallowed-by-policy', `the profile policy rules forbid this (result ${ResultCode.disallowedByPolicy})`)
  }
  let outcome: OperationOutcome
  switch (op) {
    case 'enable': outcome = euicc.enable(command.iccid!); break
    case 'disable': outcome = euicc.disable(command.iccid!); break
    case 'delete': outcome = euicc.delete(command.iccid!); break
    case 'setFallback': outcome = euicc.setFallback(command.iccid!); break
    case 'unsetFallback': outcome = euicc.unsetFallback(command.iccid); break
  }
  if (!outcome.ok) return error(outcome.code, outcome.message)
  return { result: { status: 'ok', data: profilesData(euicc) }, notifications: outcome.notifications, inventoryChanged: true }
}
