// A CI → EUM → eUICC PKI generated at runtime (NIST P-256 or brainpoolP256r1) shaped like the GSMA
// SGP.26 test PKI, so tests and the device simulator work without ../shared. Test use only: the keys
// live in memory and the CI is trusted by nobody unless a test says so.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { OID } from './certificate-fields.ts'
import { buildCertificate, extensions, keyIdentifier } from './x509-builder.ts'
import type { NameInput } from './x509-builder.ts'
import { eidForPrefix } from './eid.ts'

export type TestCurve = 'P-256' | 'brainpoolP256r1'

export interface TestIdentity {
  name: NameInput
  privateKey: KeyObject
  publicKey: KeyObject
  keyId: Uint8Array
  certificateDer: Uint8Array
}

export interface TestPki {
  curve: TestCurve
  ci: TestIdentity
  eum: TestIdentity
  euicc: TestIdentity
  eid: string
  eumPrefix: string
  organisation: string
}

/** How the EUM limits its EIDs: SGP.22 v2 nameConstraints, the newer permittedEins, or both. */
export type EumRange = 'name-constraints' | 'permitted-eins' | 'both'

export interface TestPkiOptions {
  curve?: TestCurve
  /** Default 89049032, as in SGP.26. */
  eumPrefix?: string
  /** Default: a valid EID under `eumPrefix`. */
  eid?: string
  organisation?: string
  eumRange?: EumRange
  now?: Date
}

const DAY = 86_400_000
const FAR_FUTURE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59))

export function generateTestKeyPair (curve: TestCurve = 'P-256'): { privateKey: KeyObject, publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: curve === 'P-256' ? 'prime256v1' : 'brainpoolP256r1' })
}

function serial (): bigint {
  const bytes = randomBytes(8)
  bytes[0]! &= 0x7f
  return BigInt('0x' + bytes.toString('hex')) || 1n
}

export function createTestCi (curve: TestCurve = 'P-256', commonName = 'Test CI', now = new Date()): TestIdentity {
  const keys = generateTestKeyPair(curve)
  const name: NameInput = [[OID.commonName, commonName], [OID.organization, 'RSPTEST'], [OID.country, 'IT']]
  const keyId = keyIdentifier(keys.publicKey)
  const certificateDer = buildCertificate({
    serialNumber: serial(),
    issuer: name,
    subject: name,
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + 35 * 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      extensions.subjectKeyIdentifier(keyId),
      extensions.basicConstraints(true),
      extensions.certificatePolicies(['2.23.146.1.2.1.0']),
      extensions.keyUsage(['keyCertSign', 'cRLSign'])
    ]
  })
  return { name, ...keys, keyId, certificateDer }
}

export interface EumOptions {
  curve?: TestCurve
  organisation?: string
  eumPrefix?: string
  eumRange?: EumRange
  notBefore?: Date
  notAfter?: Date
}

export function issueEumCertificate (ci: TestIdentity, options: EumOptions = {}): TestIdentity {
  const organisation = options.organisation ?? 'Test EUM'
  const prefix = options.eumPrefix ?? '89049032'
  const range = options.eumRange ?? 'name-constraints'
  const keys = generateTestKeyPair(options.curve)
  const name: NameInput = [[OID.country, 'ES'], [OID.organization, organisation], [OID.commonName, 'EUM Test']]
  const keyId = keyIdentifier(keys.publicKey)
  const now = options.notBefore === undefined ? Date.now() : options.notBefore.getTime() + DAY
  const certificateDer = buildCertificate({
    serialNumber: serial(),
    issuer: ci.name,
    subject: name,
    notBefore: options.notBefore ?? new Date(now - DAY),
    notAfter: options.notAfter ?? new Date(now + 30 * 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: ci.privateKey,
    extensions: [
      extensions.authorityKeyIdentifier(ci.keyId),
      extensions.subjectKeyIdentifier(keyId),
      extensions.keyUsage(['keyCertSign']),
      extensions.certificatePolicies([OID.policyEum]),
      extensions.basicConstraints(true, 0),
      ...(range === 'permitted-eins' ? [] : [extensions.nameConstraints([[OID.organization, organisation], [OID.serialNumber, prefix]])]),
      ...(range === 'name-constraints' ? [] : [extensions.permittedEins([prefix])])
    ]
  })
  return { name, ...keys, keyId, certificateDer }
}

export interface EuiccOptions {
  eid: string
  curve?: TestCurve
  /** Default: the EUM's O. */
  organisation?: string
  notBefore?: Date
  notAfter?: Date
  /** Reuse a key pair (e.g. to certify the same eUICC key twice). */
  keys?: { privateKey: KeyObject, publicKey: KeyObject }
}

export function issueEuiccCertificate (eum: TestIdentity, options: EuiccOptions): TestIdentity {
  const organisation = options.organisation ?? eum.name.find(([t]) => t === OID.organization)?.[1] ?? 'Test EUM'
  const keys = options.keys ?? generateTestKeyPair(options.curve)
  const name: NameInput = [
    [OID.country, 'ES'], [OID.organization, organisation], [OID.serialNumber, options.eid], [OID.commonName, 'Test eUICC']
  ]
  const keyId = keyIdentifier(keys.publicKey)
  const certificateDer = buildCertificate({
    serialNumber: serial(),
    issuer: eum.name,
    subject: name,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? FAR_FUTURE,
    publicKey: keys.publicKey,
    signingKey: eum.privateKey,
    extensions: [
      extensions.authorityKeyIdentifier(eum.keyId),
      extensions.subjectKeyIdentifier(keyId),
      extensions.keyUsage(['digitalSignature']),
      extensions.certificatePolicies([OID.policyEuicc])
    ]
  })
  return { name, ...keys, keyId, certificateDer }
}

/** A complete chain, valid from a day before `now` (default: the current time). */
export function createTestPki (options: TestPkiOptions = {}): TestPki {
  const curve = options.curve ?? 'P-256'
  const eumPrefix = options.eumPrefix ?? '89049032'
  const organisation = options.organisation ?? 'Test EUM'
  const eid = options.eid ?? eidForPrefix(eumPrefix, 1234512345123456789n)
  const ci = createTestCi(curve, 'Test CI', options.now)
  const notBefore = new Date((options.now?.getTime() ?? Date.now()) - DAY)
  const eum = issueEumCertificate(ci, { curve, organisation, eumPrefix, eumRange: options.eumRange, notBefore })
  const euicc = issueEuiccCertificate(eum, { eid, curve, notBefore })
  return { curve, ci, eum, euicc, eid, eumPrefix, organisation }
}
