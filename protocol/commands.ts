/** Remote profile operations on the wire (DESIGN.md "MQTT contract": `commands/{commandId}` and
 * `commands/{commandId}/result`): one definition for server, simulator and tests. */
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { parseDeviceJson } from './device-json.ts'

export const COMMAND_OPS = ['enable', 'disable', 'delete', 'listProfiles', 'download', 'setFallback', 'unsetFallback'] as const
export type CommandOp = typeof COMMAND_OPS[number]

/** Operations that name a profile. */
export const OPS_WITH_ICCID: ReadonlySet<CommandOp> = new Set(['enable', 'disable', 'delete', 'setFallback'])

export const ICCID_PATTERN = '^89[0-9]{16,18}$'

/** hub → device on `devices/{id}/commands/{commandId}` (QoS 1). */
export const CommandMessage = Type.Object({
  id: Type.String(),
  op: Type.Union(COMMAND_OPS.map((op) => Type.Literal(op))),
  iccid: Type.Optional(Type.String({ pattern: ICCID_PATTERN })),
  activationCode: Type.Optional(Type.String()),
  expiresAt: Type.String({ format: 'date-time' }),
  /** SGP.32 devices: the signed EuiccPackageRequest (BF51), base64 DER. */
  euiccPackageRequest: Type.Optional(Type.String())
})
export type CommandMessage = Static<typeof CommandMessage>

/** device → hub on `devices/{id}/commands/{commandId}/result` (QoS 1). */
export const CommandResultMessage = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  code: Type.Optional(Type.String({ maxLength: 100 })),
  message: Type.Optional(Type.String({ maxLength: 2000 })),
  euiccPackageResult: Type.Optional(Type.String({ maxLength: 64 * 1024 })),
  data: Type.Optional(Type.Unknown())
})
export type CommandResultMessage = Static<typeof CommandResultMessage>

const checkResult = TypeCompiler.Compile(CommandResultMessage)

export type ParsedResult = { ok: true, value: CommandResultMessage } | { ok: false, reason: string, detail: string }

/** Parses a result payload: device JSON (protocol/device-json.ts, whose reasons it keeps), then the
 * shape above (`invalid-result`). Whatever the reason, the command ends failed with `invalid-result`. */
export function parseCommandResult (payload: Uint8Array): ParsedResult {
  const parsed = parseDeviceJson(payload)
  if (!parsed.ok) return parsed
  const json = parsed.value
  if (!checkResult.Check(json)) {
    const first = checkResult.Errors(json).First()
    return { ok: false, reason: 'invalid-result', detail: first === undefined ? 'bad shape' : `${first.path || '/'}: ${first.message}` }
  }
  return { ok: true, value: json }
}

export interface ActivationCode {
  smdpAddress: string
  matchingId: string
  oid?: string
  confirmationCodeRequired?: boolean
}

const FQDN = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const MATCHING_ID = /^[A-Za-z0-9-]{0,255}$/
const OID = /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/

/** `LPA:1$<SM-DP+ FQDN>$<matching id>[$<OID>[$<confirmation code required flag>]]` (ESIM.md
 * "Identifiers"); returns the parts, or the reason it is not one. */
export function parseActivationCode (code: string): { ok: true, value: ActivationCode } | { ok: false, reason: string } {
  if (code.length > 512) return { ok: false, reason: 'longer than 512 characters' }
  const parts = code.split('$')
  if (parts[0] !== 'LPA:1') return { ok: false, reason: 'must start with "LPA:1$"' }
  if (parts.length < 3 || parts.length > 5) return { ok: false, reason: 'expected LPA:1$<SM-DP+ address>$<matching id>[$<OID>$<confirmation code flag>]' }
  const [, smdpAddress, matchingId, oid, flag] = parts as [string, string, string, string?, string?]
  if (!FQDN.test(smdpAddress)) return { ok: false, reason: `"${smdpAddress}" is not an SM-DP+ FQDN` }
  if (!MATCHING_ID.test(matchingId)) return { ok: false, reason: 'the matching id may hold only letters, digits and "-" (at most 255)' }
  if (oid !== undefined && oid !== '' && !OID.test(oid)) return { ok: false, reason: `"${oid}" is not an OID` }
  if (flag !== undefined && flag !== '1') return { ok: false, reason: 'the confirmation code flag must be "1" when present' }
  const value: ActivationCode = { smdpAddress, matchingId }
  if (oid !== undefined && oid !== '') value.oid = oid
  if (flag === '1') value.confirmationCodeRequired = true
  return { ok: true, value }
}
