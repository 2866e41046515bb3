// How the simulated eUICC handles an SGP.32 eUICC Package (ESIM.md "SGP.32: the eIM role"); the ASN.1 is
// esim/euicc-package.ts. The eUICC checks the eIM id and signature (an unsigned error otherwise), the EID
// and the counter (a signed error: invalidEid 3, replayError 4, counterValueOutOfRange 6), runs the PSMOs
// on its EuiccModel and returns the result signed with its own key.
import type { KeyObject } from 'node:crypto'
import { decodeEuiccPackageRequest, encodeEuiccPackageResult, MAX_COUNTER_VALUE, PackageErrorCode, verifyPackageRequestSignature } from '../esim/euicc-package.ts'
import type { EuiccPackageRequest, PsmoResultInput } from '../esim/euicc-package.ts'
import type { EuiccModel, OperationOutcome, PendingNotification } from './euicc-model.ts'
import { ResultCode } from './euicc-model.ts'

export interface EimTrust { eimId: string, publicKey: KeyObject }

export interface PackageOutcome {
  /** The DER EuiccPackageResult to return to the eIM. */
  result: Uint8Array
  /** signed: the PSMOs ran (each has its own code); error-signed / error-unsigned: the package was refused. */
  kind: 'signed' | 'error-signed' | 'error-unsigned'
  /** Every PSMO returned ok. */
  ok: boolean
  code?: string
  message?: string
  notifications: PendingNotification[]
  inventoryChanged: boolean
}

/** Checks and runs a package on `euicc`. Never throws: an undecodable package is an unsigned error. */
export function processEuiccPackage (euicc: EuiccModel, der: Uint8Array, trust: EimTrust | null): PackageOutcome {
  let request: EuiccPackageRequest
  try {
    request = decodeEuiccPackageRequest(der)
  } catch (err) {
    return unsigned(trust?.eimId ?? '', undefined, 'malformed-package', `the eUICC Package cannot be decoded: ${(err as Error).message}`)
  }
  const tx = request.eimTransactionId
  if (trust === null || trust.eimId !== request.eimId) {
    return unsigned(request.eimId, tx, 'unknown-eim', `eIM "${request.eimId}" is not associated with this eUICC`)
  }
  if (!verifyPackageRequestSignature(request, trust.publicKey)) return unsigned(request.eimId, tx, 'bad-eim-signature', 'the eIM signature does not verify with the eIM public key')

  if (request.eid !== euicc.eid) return signedError(euicc, request, PackageErrorCode.invalidEid, 'invalid-eid', `package for EID ${request.eid}, this eUICC is ${euicc.eid}`)
  if (request.counterValue > MAX_COUNTER_VALUE) return signedError(euicc, request, PackageErrorCode.counterValueOutOfRange, 'counter-out-of-range', `counter ${request.counterValue} > ${MAX_COUNTER_VALUE}`)
  if (request.counterValue <= euicc.eimCounter) return signedError(euicc, request, PackageErrorCode.replayError, 'replay', `counter ${request.counterValue} ≤ last accepted ${euicc.eimCounter}`)
  if (request.psmos.some((p) => p.op === 'unsupported')) {
    euicc.eimCounter = request.counterValue
    return signedError(euicc, request, PackageErrorCode.undefinedError, 'unsupported-psmo', 'the package holds an operation this simulator does not implement')
  }
  euicc.eimCounter = request.counterValue

  const results: PsmoResultInput[] = []
  const notifications: PendingNotification[] = []
  let ok = true
  let inventoryChanged = false
  const run = (op: Exclude<PsmoResultInput['op'], 'listProfileInfo'>, outcome: OperationOutcome) => {
    if (outcome.ok) notifications.push(...outcome.notifications)
    else ok = false
    results.push({ op, code: outcome.ok ? ResultCode.ok : outcome.reason })
    if (outcome.ok) inventoryChanged = true
  }
  for (const psmo of request.psmos) {
    switch (psmo.op) {
      case 'enable': run(psmo.op, euicc.enable(psmo.iccid)); break
      case 'disable': run(psmo.op, euicc.disable(psmo.iccid)); break
      case 'delete': run(psmo.op, euicc.delete(psmo.iccid)); break
      case 'setFallbackAttribute': run(psmo.op, euicc.setFallback(psmo.iccid)); break
      case 'unsetFallbackAttribute': run(psmo.op, euicc.unsetFallback(psmo.iccid)); break
      case 'listProfileInfo': results.push({ op: psmo.op, profiles: euicc.profiles }); break
    }
  }
  const result = encodeEuiccPackageResult({ kind: 'signed', eimId: request.eimId, counterValue: request.counterValue, ...(tx === undefined ? {} : { eimTransactionId: tx }), seqNumber: euicc.nextSeqNumber(), results }, (bytes) => euicc.sign(bytes))
  return {
    result,
    kind: 'signed',
    ok,
    ...(ok ? {} : { code: 'psmo-failed', message: 'one or more operations of the package failed' }),
    notifications,
    inventoryChanged
  }
}

function signedError (euicc: EuiccModel, request: EuiccPackageRequest, errorCode: number, code: string, message: string): PackageOutcome {
  const tx = request.eimTransactionId
  const result = encodeEuiccPackageResult({ kind: 'signed-error', eimId: request.eimId, counterValue: request.counterValue, ...(tx === undefined ? {} : { eimTransactionId: tx }), errorCode }, (bytes) => euicc.sign(bytes))
  return { result, kind: 'error-signed', ok: false, code, message, notifications: [], inventoryChanged: false }
}

function unsigned (eimId: string, tx: Uint8Array | undefined, code: string, message: string): PackageOutcome {
  const result = encodeEuiccPackageResult({ kind: 'unsigned-error', ...(eimId === '' ? {} : { eimId: eimId.slice(0, 128) }), ...(tx === undefined ? {} : { eimTransactionId: tx }) })
  return { result, kind: 'error-unsigned', ok: false, code, message, notifications: [], inventoryChanged: false }
}
