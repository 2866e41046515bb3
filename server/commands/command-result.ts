import { X509Certificate } from 'node:crypto'
import { parseCommandResult, type CommandResultMessage } from '../../protocol/commands.ts'
import type { CommandRow } from '../db/schema/index.ts'
import { decodeEuiccPackageResult, PACKAGE_ERROR, verifyPackageResultSignature, type ListedProfile } from '../../esim/euicc-package.ts'
import type { Ending } from './command-transitions.ts'

/** The hub's reading of a device's answer: how the command ends, and for a succeeded `listProfiles` the
 * profiles the signed result lists. */
export interface Verdict extends Ending { listed: ListedProfile[] | null }

export type ParsedResult = { ok: true, value: CommandResultMessage } | { ok: false, reason: string, detail: string }

/** Reads the payload of `commands/{commandId}/result`; `null` is a payload over its size limit. */
export function parseResult (payload: Uint8Array | null): ParsedResult {
  if (payload === null) return { ok: false, reason: 'invalid-result', detail: 'the result is over its size limit' }
  return parseCommandResult(payload)
}

/** Whether judging this command needs the eUICC certificate (a packaged command: the caller loads it). */
export const needsEuiccCertificate = (row: CommandRow): boolean => row.euiccPackageRequest !== null

/** Judges a device's answer to a sent command. Pure: no database, no clock; the caller passes the
 * command row, the parsed answer, this hub's eimId and the eUICC certificate (DER) it holds for the
 * command's EID, `null` when it holds none.
 *
 * A plain (JSON) command ends as the device says. For a packaged (SGP.32) command the JSON `status` does
 * not decide: the signed EuiccPackageResult does (docs/operations.md, "Result"). Checks, in order: it is
 * there (`missing-package-result`) and decodes (`malformed-package-result`); an unsigned error is a refusal
 * (`package-refused`); eimId, counterValue and eimTransactionId are the package's (`package-mismatch`);
 * the certificate is held and readable (`unknown-euicc`); the signature verifies over the bytes received
 * (`bad-signature`); then a signed error or a per-PSMO code other than 0 fails the command. */
export function judge (row: CommandRow, result: CommandResultMessage, eimId: string, euiccCertificate: Uint8Array | null): Verdict {
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
  if (decoded.kind === 'unsigned-error') {
    return fail('package-refused', `the eUICC refused the package without signing (${result.code ?? 'no code'}${result.message === undefined ? '' : ': ' + result.message})`)
  }
  if (decoded.eimId !== eimId) return fail('package-mismatch', `the result names eIM "${decoded.eimId}", not this hub's`)
  if (decoded.counterValue !== row.counterValue) return fail('package-mismatch', `the result's counterValue ${decoded.counterValue} is not the package's ${row.counterValue ?? '-'}`)
  if (decoded.eimTransactionId === null || Buffer.from(decoded.eimTransactionId).toString('hex') !== row.eimTransactionId) return fail('package-mismatch', 'the result\'s eimTransactionId is not the package\'s')
  if (euiccCertificate === null) return fail('unknown-euicc', `the hub holds no eUICC certificate for ${row.eid ?? '?'}: the result cannot be verified`)
  let publicKey
  try {
    publicKey = new X509Certificate(euiccCertificate).publicKey
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

/** The profiles a plain (JSON) `listProfiles` answer lists in `data.profiles`; entries without a valid
 * ICCID are skipped, `null` when there is no list. */
export function listedFromData (data: unknown): ListedProfile[] | null {
  const list = (data as { profiles?: unknown } | undefined)?.profiles
  if (!Array.isArray(list)) return null
  const out: ListedProfile[] = []
  for (const p of list as Array<Record<string, unknown>>) {
    if (typeof p?.iccid !== 'string' || !/^89[0-9]{16,18}$/.test(p.iccid)) continue
    out.push({ iccid: p.iccid, state: p.state === 'enabled' ? 'enabled' : 'disabled', ...(typeof p.name === 'string' ? { name: p.name } : {}), ...(typeof p.spn === 'string' ? { spn: p.spn } : {}) })
  }
  return out
}

/** The ICCID a succeeded `download` answer names in `data.iccid` (the profile now installed), `null`
 * when it names none or not an ICCID. */
export function downloadedIccid (data: unknown): string | null {
  const iccid = (data as { iccid?: unknown } | undefined)?.iccid
  return typeof iccid === 'string' && /^89[0-9]{16,18}$/.test(iccid) ? iccid : null
}
