import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { checkKnownEuiccCertificate, verifyEuiccChain } from '../../esim/certificate-chain.ts'
import type { TrustAnchor } from '../../esim/certificate-chain.ts'
import { OID, readCertificateFields } from '../../esim/certificate-fields.ts'
import { buildCertificate, extensions as ext } from '../../esim/x509-builder.ts'
import type { NameInput } from '../../esim/x509-builder.ts'
import { createTestCi, createTestPki, generateTestKeyPair, issueEumCertificate, issueEuiccCertificate } from '../../esim/test-pki.ts'
import type { TestIdentity } from '../../esim/test-pki.ts'
import { eidForPrefix } from '../../esim/eid.ts'
import { octetString, sequence, tlv } from '../../esim/der-writer.ts'
import { encodeName } from '../../esim/x509-builder.ts'

const pki = createTestPki()
const anchors: TrustAnchor[] = [pki.ci.certificateDer]
const DAY = 86_400_000

function reason (euicc: Uint8Array, eum: Uint8Array, trustAnchors = anchors, expectedEid?: string): string {
  const r = verifyEuiccChain(euicc, eum, { trustAnchors, expectedEid })
  if (process.env.SHOW_DETAIL !== undefined && !r.ok) console.error(r.detail)
  return r.ok ? 'ok' : r.reason
}

/** A certificate issued by `issuer` with exactly the given extensions. */
function issue (issuer: TestIdentity, subject: NameInput, extensions: Uint8Array[], key = generateTestKeyPair()): TestIdentity {
  const certificateDer = buildCertificate({
    serialNumber: 7,
    issuer: issuer.name,
    subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    publicKey: key.publicKey,
    signingKey: issuer.privateKey,
    extensions
  })
  return { name: subject, ...key, keyId: pki.euicc.keyId, certificateDer }
}

const euiccName = (eid: string, o = pki.organisation): NameInput => [[OID.country, 'ES'], [OID.organization, o], [OID.serialNumber, eid], [OID.commonName, 'x']]
const euiccExt = (eum: TestIdentity, overrides: { ku?: Uint8Array, policy?: Uint8Array, extra?: Uint8Array[] } = {}): Uint8Array[] => [
  ext.authorityKeyIdentifier(eum.keyId),
  overrides.ku ?? ext.keyUsage(['digitalSignature']),
  overrides.policy ?? ext.certificatePolicies([OID.policyEuicc]),
  ...(overrides.extra ?? [])
]

t.test('the generated chain verifies, with anchors as DER, PEM or X509Certificate', async t => {
  t.equal(reason(pki.euicc.certificateDer, pki.eum.certificateDer), 'ok')
  const x509 = new X509Certificate(pki.ci.certificateDer)
  t.equal(reason(pki.euicc.certificateDer, pki.eum.certificateDer, [x509.toString()]), 'ok', 'PEM')
  t.equal(reason(pki.euicc.certificateDer, pki.eum.certificateDer, [x509]), 'ok', 'X509Certificate')
  t.equal(reason(pki.euicc.certificateDer, pki.eum.certificateDer, ['not a certificate', Uint8Array.of(1)]), 'no-trust-anchor')
  t.equal(reason(pki.euicc.certificateDer, pki.eum.certificateDer, []), 'no-trust-anchor')
  const fields = readCertificateFields(pki.euicc.certificateDer)
  t.equal(fields.notAfter.getUTCFullYear(), 9999, 'GeneralizedTime far in the future')
})

t.test('EUM ranges: nameConstraints, permittedEins, both, none', async t => {
  for (const eumRange of ['name-constraints', 'permitted-eins', 'both'] as const) {
    const eum = issueEumCertificate(pki.ci, { eumRange, organisation: pki.organisation, eumPrefix: '89049032' })
    const inside = issueEuiccCertificate(eum, { eid: eidForPrefix('89049032', 3) })
    const outside = issueEuiccCertificate(eum, { eid: eidForPrefix('89049031', 3) })
    t.equal(reason(inside.certificateDer, eum.certificateDer), 'ok', `${eumRange}: inside`)
    t.equal(reason(outside.certificateDer, eum.certificateDer), 'eid-not-permitted', `${eumRange}: outside`)
  }
  const otherO = issueEuiccCertificate(pki.eum, { eid: eidForPrefix('89049032', 4), organisation: 'Other EUM' })
  t.equal(reason(otherO.certificateDer, pki.eum.certificateDer), 'eid-not-permitted', 'organisation differs')
  const bare = issue(pki.ci, pki.eum.name, [
    ext.authorityKeyIdentifier(pki.ci.keyId), ext.subjectKeyIdentifier(pki.eum.keyId), ext.keyUsage(['keyCertSign']),
    ext.certificatePolicies([OID.policyEumV3]), ext.basicConstraints(true, 0)
  ], { privateKey: pki.eum.privateKey, publicKey: pki.eum.publicKey })
  t.equal(reason(pki.euicc.certificateDer, bare.certificateDer), 'eid-not-permitted', 'EUM without any range')
  const excluded = issue(pki.ci, pki.eum.name, [
    ext.authorityKeyIdentifier(pki.ci.keyId), ext.subjectKeyIdentifier(pki.eum.keyId), ext.keyUsage(['keyCertSign']),
    ext.certificatePolicies([OID.policyEum]), ext.basicConstraints(true, 0), ext.permittedEins(['8904']),
    ext.custom(OID.nameConstraints, true, sequence(tlv(0xa1, sequence(tlv(0xa4, encodeName([[OID.serialNumber, '89049032']]))))))
  ], { privateKey: pki.eum.privateKey, publicKey: pki.eum.publicKey })
  t.equal(reason(pki.euicc.certificateDer, excluded.certificateDer), 'eid-not-permitted', 'EID in an excluded subtree')
})

t.test('EIDs in eUICC certificates', async t => {
  const badCheck = issue(pki.eum, euiccName('89049032123451234512345678901234'), euiccExt(pki.eum))
  t.equal(reason(badCheck.certificateDer, pki.eum.certificateDer), 'eid-not-permitted', 'wrong check digits')
  t.equal(reason(badCheck.certificateDer, pki.eum.certificateDer, anchors, pki.eid), 'eid-mismatch', 'mismatch is reported first')
  const noEid = issue(pki.eum, [[OID.organization, pki.organisation], [OID.commonName, 'x']], euiccExt(pki.eum))
  t.equal(reason(noEid.certificateDer, pki.eum.certificateDer), 'eid-not-permitted', 'no serialNumber')
})

t.test('chain structure', async t => {
  const eid = eidForPrefix('89049032', 8)
  const otherEum = issueEumCertificate(pki.ci, { organisation: pki.organisation })
  const byOtherEum = issueEuiccCertificate(otherEum, { eid })
  t.equal(reason(byOtherEum.certificateDer, pki.eum.certificateDer), 'chain', 'eUICC issued by another EUM')
  const forged = issue({ ...otherEum, keyId: pki.eum.keyId, name: pki.eum.name }, euiccName(eid), euiccExt(pki.eum))
  t.equal(reason(forged.certificateDer, pki.eum.certificateDer), 'chain', 'right names and key id, wrong signature')
  const cases: Array<[string, Uint8Array[]]> = [
    ['no digitalSignature', euiccExt(pki.eum, { ku: ext.keyUsage(['keyAgreement']) })],
    ['EUM policy on an eUICC', euiccExt(pki.eum, { policy: ext.certificatePolicies([OID.policyEum]) })],
    ['eUICC as CA', euiccExt(pki.eum, { extra: [ext.basicConstraints(true)] })],
    ['unknown critical extension', euiccExt(pki.eum, { extra: [ext.custom('1.2.3.4', true, octetString(Uint8Array.of(1)))] })]
  ]
  for (const [what, extensions] of cases) {
    t.equal(reason(issue(pki.eum, euiccName(eid), extensions).certificateDer, pki.eum.certificateDer), 'chain', what)
  }
  t.equal(reason(issue(pki.eum, euiccName(eid), euiccExt(pki.eum, { extra: [ext.custom('1.2.3.4', false, octetString(Uint8Array.of(1)))] })).certificateDer, pki.eum.certificateDer), 'ok', 'unknown non-critical extension')
  const eumKeys = { privateKey: pki.eum.privateKey, publicKey: pki.eum.publicKey }
  const eumBase = [ext.authorityKeyIdentifier(pki.ci.keyId), ext.subjectKeyIdentifier(pki.eum.keyId), ext.permittedEins(['89049032'])]
  const eumCases: Array<[string, Uint8Array[]]> = [
    ['EUM without keyCertSign', [...eumBase, ext.keyUsage(['digitalSignature']), ext.certificatePolicies([OID.policyEum]), ext.basicConstraints(true)]],
    ['EUM not a CA', [...eumBase, ext.keyUsage(['keyCertSign']), ext.certificatePolicies([OID.policyEum])]],
    ['EUM with the eUICC policy', [...eumBase, ext.keyUsage(['keyCertSign']), ext.certificatePolicies([OID.policyEuicc]), ext.basicConstraints(true)]]
  ]
  for (const [what, extensions] of eumCases) {
    t.equal(reason(pki.euicc.certificateDer, issue(pki.ci, pki.eum.name, extensions, eumKeys).certificateDer), 'chain', what)
  }
  const noAki = issue(pki.ci, pki.eum.name, eumBase.slice(1).concat([ext.keyUsage(['keyCertSign']), ext.certificatePolicies([OID.policyEum]), ext.basicConstraints(true)]), eumKeys)
  t.equal(reason(pki.euicc.certificateDer, noAki.certificateDer), 'ok', 'EUM without AKI is linked to the CI by name')
  const unknownCi = createTestCi('P-256', 'Other CI')
  t.equal(reason(pki.euicc.certificateDer, issue(unknownCi, pki.eum.name, eumBase.slice(1), eumKeys).certificateDer), 'untrusted-ci', 'EUM from an unknown CI, no AKI')
  const notCa = issue(unknownCi, unknownCi.name, [ext.subjectKeyIdentifier(unknownCi.keyId), ext.basicConstraints(false)], unknownCi)
  const eumUnderNotCa = issueEumCertificate({ ...unknownCi, certificateDer: notCa.certificateDer }, { organisation: pki.organisation })
  t.equal(reason(issueEuiccCertificate(eumUnderNotCa, { eid }).certificateDer, eumUnderNotCa.certificateDer, [notCa.certificateDer]), 'chain', 'CI that may not sign')
  t.equal(reason(Uint8Array.of(0x30, 0), pki.eum.certificateDer), 'malformed', 'garbage eUICC certificate')
  t.equal(reason(pki.euicc.certificateDer, pki.euicc.certificateDer), 'untrusted-ci', 'eUICC certificate in place of the EUM')
})

t.test('validity', async t => {
  const expiredEum = issueEumCertificate(pki.ci, { organisation: pki.organisation, notBefore: new Date('2010-01-01Z'), notAfter: new Date('2015-01-01Z') })
  t.equal(reason(issueEuiccCertificate(expiredEum, { eid: pki.eid }).certificateDer, expiredEum.certificateDer), 'expired', 'expired EUM')
  const r = verifyEuiccChain(pki.euicc.certificateDer, pki.eum.certificateDer, { trustAnchors: anchors, now: new Date(Date.now() + 40 * 365 * DAY) })
  t.match(r, { ok: false, reason: 'expired', detail: /EUM certificate expired/ }, 'an injected clock decides')
})

t.test('known eUICC certificate without its EUM', async t => {
  t.match(checkKnownEuiccCertificate(pki.euicc.certificateDer, {}), { ok: true, eid: pki.eid })
  t.match(checkKnownEuiccCertificate(pki.euicc.certificateDer, { expectedEid: eidForPrefix('89', 1) }), { ok: false, reason: 'eid-mismatch' })
  t.match(checkKnownEuiccCertificate(pki.euicc.certificateDer, { now: new Date('2000-01-01Z') }), { ok: false, reason: 'expired' })
  t.match(checkKnownEuiccCertificate(pki.eum.certificateDer, {}), { ok: false, reason: 'chain' })
  t.match(checkKnownEuiccCertificate(Uint8Array.of(1, 2), {}), { ok: false, reason: 'malformed' })
})
