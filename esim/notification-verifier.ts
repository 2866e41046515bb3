// Decodes and verifies a PendingNotification. The eUICC signature (ECDSA SHA-256, r‖s) is checked over
// the exact received bytes of the signed TLV; the certificate chain the GSMA way. Never throws.
import { createHash, X509Certificate, verify, type KeyObject } from 'node:crypto'
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
  /** Chains verified recently, so a busy eUICC's notifications cost one signature check each. The
   * caller clears it when the trust anchors change; entries expire after CHAIN_CACHE_MS. */
  chainCache?: Map<string, CachedChain>
}

export interface CachedChain { certificate: X509Certificate, eid: string, expires: number }
export const CHAIN_CACHE_MS = 10 * 60_000
const CHAIN_CACHE_MAX = 50_000

function chainKey (euiccDer: Uint8Array, eumDer: Uint8Array | undefined, expectedEid: string | undefined): string {
  const hash = createHash('sha256').update(euiccDer)
  if (eumDer !== undefined) hash.update(eumDer)
  return hash.digest('base64') + (eumDer === undefined ? ':pinned:' : ':') + (expectedEid ?? '')
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

  const key = ctx.chainCache === undefined ? '' : chainKey(euiccDer, eumDer, ctx.expectedEid)
  const now = (ctx.now ?? new Date()).getTime()
  const cached = ctx.chainCache?.get(key)
  const signed = notification.kind === 'other-signed' ? 'BF2F metadata' : 'BF27 result data'
  const badSignature = `the eUICC signature over the received ${signed} does not verify with the eUICC certificate key`
  if (cached !== undefined && cached.expires > now) {
    if (!signatureValid(notification, cached.certificate)) return fail('bad-signature', badSignature)
    return { ok: true, notification, eid: cached.eid, euiccCertificateDer: new Uint8Array(euiccDer), ...(eumDer === undefined ? {} : { eumCertificateDer: new Uint8Array(eumDer) }) }
  }

  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(euiccDer)
  } catch (err) {
    return fail('malformed', `eUICC certificate cannot be parsed: ${err instanceof Error ? err.message : String(err)}`)
  }
  // The signature goes before the chain: "the data was changed" is the more useful answer.
  if (!signatureValid(notification, certificate)) return fail('bad-signature', badSignature)
  const options = { trustAnchors: ctx.trustAnchors, now: ctx.now, expectedEid: ctx.expectedEid }
  const chain = eumDer === undefined
    ? checkKnownEuiccCertificate(euiccDer, options)
    : verifyEuiccChain(euiccDer, eumDer, options)
  if (!chain.ok) return fail(chain.reason, chain.detail)
  if (ctx.chainCache !== undefined) {
    if (ctx.chainCache.size >= CHAIN_CACHE_MAX) ctx.chainCache.clear()
    // Never past the eUICC certificate's own end of validity.
    const expires = Math.min(now + CHAIN_CACHE_MS, new Date(certificate.validTo).getTime())
    ctx.chainCache.set(key, { certificate, eid: chain.eid, expires })
  }
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

/** Each certificate's public key, read once (`X509Certificate.publicKey` makes a new KeyObject per read). */
const publicKeys = new WeakMap<X509Certificate, KeyObject>()

function signatureValid (notification: PendingNotification, certificate: X509Certificate): boolean {
  try {
    let key = publicKeys.get(certificate)
    if (key === undefined) publicKeys.set(certificate, key = certificate.publicKey)
    if (key.asymmetricKeyType !== 'ec') return false
    return verify('sha256', notification.signedBytes, { key, dsaEncoding: 'ieee-p1363' }, notification.signature)
  } catch {
    return false
  }
}
