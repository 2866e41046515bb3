// Decodes and verifies a PendingNotification. The eUICC signature (ECDSA SHA-256, r‖s) is checked over
// the exact received bytes of the signed TLV; the certificate chain the GSMA way. Never throws.
import { X509Certificate, verify } from 'node:crypto'
import { DerDecodeError } from './der-reader.ts'
import { decodePendingNotification } from './pending-notification.ts'
import type { PendingNotification } from './pending-notification.ts'
import { checkKnownEuiccCertificate, verifyEuiccChain } from './certificate-chain.ts'
import type { TrustAnchor } from './certificate-chain.ts'

export type VerificationFailureReason =
  | 'bad-signature' | 'untrusted-ci' | 'chain' | 'expired' | 'eid-not-permitted' | 'eid-mismatch'
  | 'unknown-euicc' | 'malformed' | 'no-trust-anchor'

/**
 * A certificate the hub already holds for the device. With the EUM certificate the whole chain is
 * verified again; with the eUICC certificate alone it is taken as verified earlier (pinned) and only
 * its signature key, validity and EID are checked.
 */
export interface KnownEuicc {
  euiccCertificate: Uint8Array
  eumCertificate?: Uint8Array
}

export type KnownEuiccSource =
  | Uint8Array
  | KnownEuicc
  | ((eid: string | undefined) => Uint8Array | KnownEuicc | undefined)

export interface VerifyContext {
  /** Trusted CI certificates (DER, PEM or X509Certificate). Empty → 'no-trust-anchor'. */
  trustAnchors: readonly TrustAnchor[]
  now?: Date
  /** The EID the device is registered with. */
  expectedEid?: string
  /** Needed for installation results (BF37), which carry no certificate; called with `expectedEid`. */
  knownEuiccCertificate?: KnownEuiccSource
}

export type VerificationResult =
  | {
    ok: true
    notification: PendingNotification
    eid: string
    euiccCertificateDer: Uint8Array
    /** Present when the chain was verified with an EUM certificate: store it with the eUICC one. */
    eumCertificateDer?: Uint8Array
  }
  | { ok: false, reason: VerificationFailureReason, detail: string, notification?: PendingNotification }

export function verifyNotification (input: Uint8Array, ctx: VerifyContext): VerificationResult {
  let notification: PendingNotification
  try {
    notification = decodePendingNotification(input)
  } catch (err) {
    if (err instanceof DerDecodeError) return { ok: false, reason: 'malformed', detail: `${err.code}: ${err.message}` }
    return { ok: false, reason: 'malformed', detail: `unexpected error: ${err instanceof Error ? err.message : String(err)}` }
  }
  const fail = (reason: VerificationFailureReason, detail: string): VerificationResult =>
    ({ ok: false, reason, detail, notification })

  if (ctx.trustAnchors.length === 0) {
    return fail('no-trust-anchor', 'no CI certificate is configured as trust anchor, so no notification can be verified')
  }

  let euiccDer: Uint8Array
  let eumDer: Uint8Array | undefined
  if (notification.kind === 'other-signed') {
    euiccDer = notification.euiccCertificateDer
    eumDer = notification.eumCertificateDer
  } else {
    const known = resolveKnown(ctx)
    if (known === undefined) {
      const who = ctx.expectedEid === undefined ? 'this device' : `EID ${ctx.expectedEid}`
      return fail('unknown-euicc', `an installation result carries no certificate and none is known for ${who}`)
    }
    euiccDer = known.euiccCertificate
    eumDer = known.eumCertificate
  }

  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(euiccDer)
  } catch (err) {
    return fail('malformed', `eUICC certificate cannot be parsed: ${err instanceof Error ? err.message : String(err)}`)
  }
  // The signature goes before the chain: "the data was changed" is the more useful answer.
  if (!signatureValid(notification, certificate)) {
    const signed = notification.kind === 'other-signed' ? 'BF2F metadata' : 'BF27 result data'
    return fail('bad-signature', `the eUICC signature over the received ${signed} does not verify with the eUICC certificate key`)
  }
  const options = { trustAnchors: ctx.trustAnchors, now: ctx.now, expectedEid: ctx.expectedEid }
  const chain = eumDer === undefined
    ? checkKnownEuiccCertificate(euiccDer, options)
    : verifyEuiccChain(euiccDer, eumDer, options)
  if (!chain.ok) return fail(chain.reason, chain.detail)
  return {
    ok: true,
    notification,
    eid: chain.eid,
    euiccCertificateDer: new Uint8Array(euiccDer),
    ...(eumDer === undefined ? {} : { eumCertificateDer: new Uint8Array(eumDer) })
  }
}

function resolveKnown (ctx: VerifyContext): KnownEuicc | undefined {
  const source = ctx.knownEuiccCertificate
  let found: Uint8Array | KnownEuicc | undefined
  try {
    found = typeof source === 'function' ? source(ctx.expectedEid) : source
  } catch {
    return undefined // a failing lookup knows no certificate
  }
  if (found === undefined) return undefined
  return found instanceof Uint8Array ? { euiccCertificate: found } : found
}

function signatureValid (notification: PendingNotification, certificate: X509Certificate): boolean {
  try {
    const key = certificate.publicKey
    if (key.asymmetricKeyType !== 'ec') return false
    return verify('sha256', notification.signedBytes, { key, dsaEncoding: 'ieee-p1363' }, notification.signature)
  } catch {
    return false
  }
}
