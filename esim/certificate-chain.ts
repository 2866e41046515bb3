// eUICC ← EUM ← CI verification the GSMA way (not a generic X.509 path validation, which rejects
// even the SGP.26 test chain): signatures, issuers linked by authority/subject key identifiers, a
// trusted CI, keyUsage/basicConstraints/certificatePolicies per role, validity dates, and the EUM's
// name constraint read as "the eUICC's O must match and its EID must start with the permitted prefix"
// (plus the newer permittedEins extension). Never throws.
import { X509Certificate } from 'node:crypto'
import { DerDecodeError } from './der-reader.ts'
import { OID, formatName, nameAttribute, readCertificateFields } from './certificate-fields.ts'
import type { CertificateFields, NameAttribute } from './certificate-fields.ts'
import {
  authorityKeyIdentifier, basicConstraints, certificatePolicies, keyUsage, nameConstraints, permittedEins, subjectKeyIdentifier
} from './certificate-extensions.ts'
import type { KeyUsage } from './certificate-extensions.ts'
import { eidProblem } from './eid.ts'

export type ChainFailureReason =
  'no-trust-anchor' | 'untrusted-ci' | 'chain' | 'expired' | 'eid-not-permitted' | 'eid-mismatch' | 'malformed'

/** A CI certificate: DER bytes, PEM text or an already parsed X509Certificate. */
export type TrustAnchor = Uint8Array | string | X509Certificate

export interface ChainOptions {
  trustAnchors: readonly TrustAnchor[]
  /** Clock for validity checks (default: now). */
  now?: Date
  /** The EID the caller knows the device by; a different certificate EID gives 'eid-mismatch'. */
  expectedEid?: string
}

export type ChainResult =
  | { ok: true, eid: string, euiccCertificate: X509Certificate }
  | { ok: false, reason: ChainFailureReason, detail: string }

export const EUICC_POLICIES: readonly string[] = [OID.policyEuicc]
export const EUM_POLICIES: readonly string[] = [OID.policyEum, OID.policyEumV3]
const CURVES = new Set(['prime256v1', 'brainpoolP256r1'])
const UNDERSTOOD = new Set<string>([
  OID.subjectKeyIdentifier, OID.authorityKeyIdentifier, OID.keyUsage, OID.basicConstraints, OID.certificatePolicies,
  OID.nameConstraints, OID.permittedEins, OID.subjectAltName, OID.crlDistributionPoints
])

class ChainFailure extends Error {
  readonly reason: ChainFailureReason
  constructor (reason: ChainFailureReason, detail: string) {
    super(detail)
    this.reason = reason
  }
}

interface Loaded { x509: X509Certificate, fields: CertificateFields, label: string }

export function verifyEuiccChain (euiccDer: Uint8Array, eumDer: Uint8Array, options: ChainOptions): ChainResult {
  return guarded(() => {
    const anchors = loadAnchors(options.trustAnchors)
    const euicc = load(euiccDer, 'eUICC certificate')
    const eum = load(eumDer, 'EUM certificate')
    const ci = findCi(eum, anchors)
    checkIssued(eum, ci, false) // findCi linked them already
    checkIssued(euicc, eum, true)
    checkProfile(euicc, ['digitalSignature'], EUICC_POLICIES, false)
    checkProfile(eum, ['keyCertSign'], EUM_POLICIES, true)
    checkKey(euicc)
    const now = options.now ?? new Date()
    for (const cert of [euicc, eum, ci]) checkValidity(cert, now)
    const eid = certificateEid(euicc)
    checkPermitted(euicc, eum, eid)
    return finish(euicc, eid, options.expectedEid)
  })
}

/**
 * For a known eUICC certificate without its EUM certificate (the caller stored it after an earlier
 * successful verification): checks its key, validity and EID only.
 */
export function checkKnownEuiccCertificate (euiccDer: Uint8Array, options: Omit<ChainOptions, 'trustAnchors'>): ChainResult {
  return guarded(() => {
    const euicc = load(euiccDer, 'known eUICC certificate')
    checkProfile(euicc, ['digitalSignature'], EUICC_POLICIES, false)
    checkKey(euicc)
    checkValidity(euicc, options.now ?? new Date())
    return finish(euicc, certificateEid(euicc), options.expectedEid)
  })
}

function guarded (run: () => ChainResult): ChainResult {
  try {
    return run()
  } catch (err) {
    if (err instanceof ChainFailure) return { ok: false, reason: err.reason, detail: err.message }
    const message = err instanceof Error ? err.message : String(err)
    const prefix = err instanceof DerDecodeError ? 'certificate extension: ' : 'unexpected error: '
    return { ok: false, reason: 'malformed', detail: prefix + message }
  }
}

function finish (euicc: Loaded, eid: string, expectedEid: string | undefined): ChainResult {
  if (expectedEid !== undefined && expectedEid !== eid) {
    throw new ChainFailure('eid-mismatch', `the eUICC certificate is for EID ${eid}, the device is ${expectedEid}`)
  }
  const problem = eidProblem(eid)
  if (problem !== undefined) throw new ChainFailure('eid-not-permitted', `eUICC certificate EID ${eid}: ${problem}`)
  return { ok: true, eid, euiccCertificate: euicc.x509 }
}

function load (der: Uint8Array | X509Certificate, label: string): Loaded {
  try {
    const x509 = der instanceof X509Certificate ? der : new X509Certificate(der)
    return { x509, fields: readCertificateFields(x509.raw), label }
  } catch (err) {
    throw new ChainFailure('malformed', `${label} cannot be parsed: ${err instanceof Error ? err.message : String(err)}`)
  }
}

function loadAnchors (list: readonly TrustAnchor[]): Loaded[] {
  if (list.length === 0) {
    throw new ChainFailure('no-trust-anchor', 'no CI certificate is configured as trust anchor, so no eUICC can be trusted')
  }
  const out: Loaded[] = []
  for (const anchor of list) {
    try {
      out.push(load(typeof anchor === 'string' ? new X509Certificate(anchor) : anchor, 'CI certificate'))
    } catch { /* an unusable anchor trusts nothing */ }
  }
  if (out.length === 0) {
    throw new ChainFailure('no-trust-anchor', `none of the ${list.length} configured trust anchors is a readable certificate`)
  }
  return out
}

const hex = (b: Uint8Array | undefined): string => b === undefined ? 'none' : Buffer.from(b).toString('hex').toUpperCase()
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b))

function findCi (eum: Loaded, anchors: Loaded[]): Loaded {
  const aki = authorityKeyIdentifier(eum.fields)
  const ci = anchors.find(a => {
    const ski = subjectKeyIdentifier(a.fields)
    return aki !== undefined && ski !== undefined ? sameBytes(aki, ski) : a.x509.subject === eum.x509.issuer
  })
  if (ci === undefined) {
    throw new ChainFailure('untrusted-ci',
      `the EUM certificate was issued by "${formatName(eum.fields.issuer)}" (key id ${hex(aki)}), which is not among the ${anchors.length} trusted CIs`)
  }
  const bc = basicConstraints(ci.fields)
  const ku = keyUsage(ci.fields)
  if ((bc !== undefined && !bc.cA) || (ku !== undefined && !ku.has('keyCertSign'))) {
    throw new ChainFailure('chain', 'the trusted CI certificate is not allowed to sign certificates')
  }
  return ci
}

function checkIssued (child: Loaded, issuer: Loaded, linkByKeyId: boolean): void {
  const aki = authorityKeyIdentifier(child.fields)
  const ski = subjectKeyIdentifier(issuer.fields)
  if (linkByKeyId && !sameBytes(aki, ski)) {
    throw new ChainFailure('chain', `${child.label} authority key id ${hex(aki)} does not match the ${issuer.label} key id ${hex(ski)}`)
  }
  if (child.x509.issuer !== issuer.x509.subject) {
    throw new ChainFailure('chain', `${child.label} issuer "${formatName(child.fields.issuer)}" is not the ${issuer.label} subject`)
  }
  if (child.fields.signatureAlgorithm !== OID.ecdsaWithSha256) {
    throw new ChainFailure('chain', `${child.label} is signed with ${child.fields.signatureAlgorithm}, not ECDSA with SHA-256`)
  }
  let valid = false
  try {
    valid = child.x509.verify(issuer.x509.publicKey)
  } catch { /* an unusable key does not verify */ }
  if (!valid) throw new ChainFailure('chain', `${child.label} signature does not verify with the ${issuer.label} key`)
}

function checkProfile (cert: Loaded, usages: KeyUsage[], policies: readonly string[], ca: boolean): void {
  for (const ext of cert.fields.extensions.values()) {
    if (ext.critical && !UNDERSTOOD.has(ext.oid)) throw new ChainFailure('chain', `${cert.label} has an unknown critical extension ${ext.oid}`)
  }
  const ku = keyUsage(cert.fields)
  const missing = usages.filter(u => ku?.has(u) !== true)
  if (missing.length > 0) throw new ChainFailure('chain', `${cert.label} keyUsage lacks ${missing.join(', ')}`)
  const bc = basicConstraints(cert.fields)
  if (ca && bc?.cA !== true) throw new ChainFailure('chain', `${cert.label} is not a CA (basicConstraints cA)`)
  if (!ca && bc?.cA === true) throw new ChainFailure('chain', `${cert.label} must not be a CA`)
  const held = certificatePolicies(cert.fields) ?? []
  if (!held.some(p => policies.includes(p))) {
    throw new ChainFailure('chain', `${cert.label} lacks certificate policy ${policies.join(' or ')} (has ${held.join(', ') || 'none'})`)
  }
}

function checkKey (euicc: Loaded): void {
  const key = euicc.x509.publicKey
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType !== 'ec' || curve === undefined || !CURVES.has(curve)) {
    throw new ChainFailure('chain', `${euicc.label} key is not on NIST P-256 or brainpoolP256r1`)
  }
}

function checkValidity (cert: Loaded, now: Date): void {
  const { notBefore, notAfter } = cert.fields
  if (now < notBefore) throw new ChainFailure('expired', `${cert.label} is not valid before ${notBefore.toISOString()}`)
  if (now > notAfter) throw new ChainFailure('expired', `${cert.label} expired on ${notAfter.toISOString()}`)
}

function certificateEid (euicc: Loaded): string {
  const eid = nameAttribute(euicc.fields.subject, OID.serialNumber)
  if (eid === undefined || !/^\d{32}$/.test(eid)) {
    throw new ChainFailure('eid-not-permitted', `eUICC certificate subject carries no EID (serialNumber ${eid ?? 'absent'})`)
  }
  return eid
}

/** Every attribute of the constraint must hold: serialNumber as EID prefix, the others exactly. */
function withinSubtree (subject: readonly NameAttribute[], constraint: readonly NameAttribute[]): boolean {
  return constraint.every(c => {
    const value = nameAttribute(subject, c.oid)
    return value !== undefined && (c.oid === OID.serialNumber ? value.startsWith(c.value) : value === c.value)
  })
}

function checkPermitted (euicc: Loaded, eum: Loaded, eid: string): void {
  const nc = nameConstraints(eum.fields)
  const eins = permittedEins(eum.fields)
  const subject = euicc.fields.subject
  const who = `eUICC certificate (${formatName(subject)})`
  if ((nc === undefined || nc.permitted.length === 0) && eins === undefined) {
    throw new ChainFailure('eid-not-permitted', 'the EUM certificate limits its EIDs by neither nameConstraints nor permittedEins')
  }
  if (nc !== undefined && nc.permitted.length > 0 && !nc.permitted.some(p => withinSubtree(subject, p))) {
    const allowed = nc.permitted.map(p => formatName(p)).join(' | ')
    throw new ChainFailure('eid-not-permitted', `${who} is outside the EUM's permitted subtree ${allowed} (O must match, the EID must start with serialNumber)`)
  }
  const excluded = nc?.excluded.find(p => withinSubtree(subject, p))
  if (excluded !== undefined) throw new ChainFailure('eid-not-permitted', `${who} lies in the EUM's excluded subtree ${formatName(excluded)}`)
  if (eins !== undefined && !eins.some(prefix => eid.startsWith(prefix))) {
    throw new ChainFailure('eid-not-permitted', `EID ${eid} starts with none of the EUM's permittedEins ${eins.join(', ')}`)
  }
}
