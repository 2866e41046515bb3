// The verifier against the GSMA SGP.26 test PKI and a real capture, read in place from ../shared.
import t from 'tap'
import { createPrivateKey, verify, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { verifyNotification } from '../../esim/notification-verifier.ts'
import { decodePendingNotification } from '../../esim/pending-notification.ts'
import { issueEuiccCertificate } from '../../esim/test-pki.ts'
import type { TestIdentity } from '../../esim/test-pki.ts'
import { readCertificateFields } from '../../esim/certificate-fields.ts'
import { subjectKeyIdentifier } from '../../esim/certificate-extensions.ts'
import { coreCases, notification } from './verify-cases.ts'

const shared = new URL('../../../shared/testdata/', import.meta.url)
const EID = '89049032123451234512345678901235'

if (!existsSync(new URL('sgp26/', shared))) {
  t.test('SGP.26 test PKI', { skip: 'the shared testdata is absent (../shared/testdata/sgp26 next to the repository)' }, async () => {})
} else {
  const file = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, shared)))
  const key = (path: string) => createPrivateKey(readFileSync(new URL(path, shared)))
  const pem = (path: string): Uint8Array => new Uint8Array(new X509Certificate(readFileSync(new URL(path, shared))).raw)

  /** The SGP.26 EUM as an issuer, to certify the same eUICC key with other EIDs. */
  function sgp26Eum (curve: 'NIST' | 'BRP'): TestIdentity {
    const der = file(`sgp26/eum/CERT_EUM_ECDSA_${curve}.der`)
    const x509 = new X509Certificate(der)
    return {
      name: [['2.5.4.6', 'ES'], ['2.5.4.10', 'RSP Test EUM'], ['2.5.4.3', 'EUM Test']],
      privateKey: key(`sgp26/eum/SK_EUM_ECDSA_${curve}.pem`),
      publicKey: x509.publicKey,
      keyId: subjectKeyIdentifier(readCertificateFields(der))!,
      certificateDer: der
    }
  }

  for (const curve of ['NIST', 'BRP'] as const) {
    t.test(`SGP.26 ${curve}`, async t => {
      const eum = sgp26Eum(curve)
      const euiccKey = key(`sgp26/euicc/SK_EUICC_ECDSA_${curve}.pem`)
      const keys = { privateKey: euiccKey, publicKey: new X509Certificate(file(`sgp26/euicc/CERT_EUICC_ECDSA_${curve}.der`)).publicKey }
      const otherEid = '89049032123451234512345678901300'.slice(0, 30)
      const nist = curve === 'NIST'
      coreCases(t, {
        trustAnchors: [file(`sgp26/ci/CERT_CI_ECDSA_${curve}.der`)],
        otherCi: file(nist ? 'sgp26/invalid/CERT_UNKNOWN_CI_ECDSA_NIST.der' : 'sgp26/ci/CERT_CI_ECDSA_NIST.der'),
        euiccKey,
        wrongKey: key(`sgp26/eum/SK_EUM_ECDSA_${curve}.pem`),
        euiccCert: file(`sgp26/euicc/CERT_EUICC_ECDSA_${curve}.der`),
        eumCert: eum.certificateDer,
        eid: EID,
        // sgp26/invalid holds NIST certificates only; the brainpool ones are issued here with the SGP.26 EUM key
        expiredEuiccCert: nist
          ? file('sgp26/invalid/CERT_EUICC_ECDSA_NIST_EXPIRED.der')
          : issueEuiccCertificate(eum, { eid: EID, keys, notBefore: new Date('2010-01-01Z'), notAfter: new Date('2015-01-01Z') }).certificateDer,
        outsideRangeCert: nist
          ? file('sgp26/invalid/CERT_EUICC_ECDSA_NIST_INVALID_EID.der')
          : issueEuiccCertificate(eum, { eid: '89049033123451234512345678901298', keys }).certificateDer,
        otherDevice: nist
          ? { cert: file('sgp26/invalid/CERT_EUICC_ECDSA_NIST_UNMATCHED_EID.der'), eid: '89049032123451234512345678901299' }
          : { cert: issueEuiccCertificate(eum, { eid: otherEid + '66', keys }).certificateDer, eid: otherEid + '66' }
      })
    })
  }

  t.test('SGP.26 invalid certificates', async t => {
    const anchors = [file('sgp26/ci/CERT_CI_ECDSA_NIST.der')]
    const euiccKey = key('sgp26/euicc/SK_EUICC_ECDSA_NIST.pem')
    const base = {
      trustAnchors: anchors,
      otherCi: anchors[0]!,
      euiccKey,
      wrongKey: euiccKey,
      euiccCert: file('sgp26/euicc/CERT_EUICC_ECDSA_NIST.der'),
      eumCert: file('sgp26/eum/CERT_EUM_ECDSA_NIST.der'),
      eid: EID,
      expiredEuiccCert: anchors[0]!,
      outsideRangeCert: anchors[0]!,
      otherDevice: { cert: anchors[0]!, eid: EID }
    }
    const reason = (input: Uint8Array, expectedEid?: string): string => {
      const r = verifyNotification(input, { trustAnchors: anchors, expectedEid })
      return r.ok ? 'ok' : r.reason
    }
    const withEum = (eumCert: Uint8Array) => notification({ ...base, eumCert })
    t.equal(reason(withEum(file('sgp26/invalid/CERT_EUM_ECDSA_NIST_UNKNOWN_CI.der'))), 'untrusted-ci', 'EUM from an unknown CI')
    t.equal(reason(withEum(file('sgp26/invalid/CERT_EUM_ECDSA_NIST_EXPIRED.der'))), 'chain',
      'the expired EUM of SGP.26 is named "Expired EUM Certificate", not the issuer of the test eUICC')
    const late = verifyNotification(notification(base), { trustAnchors: anchors, now: new Date('2060-01-01Z') })
    t.match(late, { ok: false, reason: 'expired', detail: /EUM certificate expired on 2054/ }, 'the EUM expires in 2054, the eUICC in 7496')
    t.equal(reason(withEum(file('sgp26/invalid/CERT_EUM_ECDSA_NIST_INVALID.der'))), 'untrusted-ci', 'self-signed EUM')
    t.equal(reason(notification(base, { cert: file('sgp26/invalid/CERT_EUICC_ECDSA_NIST_INVALID.der') })), 'chain', 'self-signed eUICC')
    t.equal(reason(notification(base, { cert: file('sgp26/invalid/CERT_EUICC_ECDSA_NIST_UNMATCHED_EID.der') })), 'eid-not-permitted',
      'the unmatched EID also has wrong check digits')
    t.equal(reason(notification(base, { cert: file('sgp26/invalid/CERT_EUICC_ECDSA_NIST_INVALID_EID.der') }), EID), 'eid-not-permitted',
      'range before device: the EID outside the range is not permitted even for the right device')
    t.equal(reason(notification(base), EID), 'ok')
  })

  t.test('the real sysmocom installation result', async t => {
    const input = file('sgp22-real/pir-sysmo-euicc.der')
    const euiccCertificate = pem('sgp22-real/euicc-cert.pem')
    const eumCertificate = pem('sgp22-real/eum-cert.pem')
    const decoded = decodePendingNotification(input)
    const x509 = new X509Certificate(euiccCertificate)
    t.ok(verify('sha256', decoded.signedBytes, { key: x509.publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature),
      'its signature over the received BF27 verifies')
    const anchors = [file('sgp26/ci/CERT_CI_ECDSA_NIST.der')]
    const r = verifyNotification(input, { trustAnchors: anchors, knownEuiccCertificate: { euiccCertificate, eumCertificate } })
    t.match(r, { ok: false, reason: 'eid-not-permitted', detail: /89044045118427484800000000011628.*serialNumber=89049032/ })
    t.ok(!r.ok && r.notification?.kind === 'installation-result', 'the decoded result comes with the rejection')
    const pinned = verifyNotification(input, { trustAnchors: anchors, knownEuiccCertificate: euiccCertificate })
    t.match(pinned, { ok: true, eid: '89044045118427484800000000011628' }, 'pinned without the EUM, only signature and validity count')
    const wrongDevice = verifyNotification(input, { trustAnchors: anchors, knownEuiccCertificate: file('sgp26/euicc/CERT_EUICC_ECDSA_NIST.der') })
    t.match(wrongDevice, { ok: false, reason: 'bad-signature' }, 'another eUICC certificate')
  })
}
