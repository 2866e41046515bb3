import t from 'tap'
import { createTestCi, createTestPki, generateTestKeyPair, issueEuiccCertificate } from '../../esim/test-pki.ts'
import type { TestCurve } from '../../esim/test-pki.ts'
import { eidForPrefix } from '../../esim/eid.ts'
import { coreCases } from './verify-cases.ts'

for (const curve of ['P-256', 'brainpoolP256r1'] as TestCurve[]) {
  t.test(`generated PKI on ${curve}`, async t => {
    const pki = createTestPki({ curve })
    const keys = { privateKey: pki.euicc.privateKey, publicKey: pki.euicc.publicKey }
    const otherEid = eidForPrefix(pki.eumPrefix, 99)
    coreCases(t, {
      trustAnchors: [pki.ci.certificateDer],
      otherCi: createTestCi(curve).certificateDer,
      euiccKey: pki.euicc.privateKey,
      wrongKey: generateTestKeyPair(curve).privateKey,
      euiccCert: pki.euicc.certificateDer,
      eumCert: pki.eum.certificateDer,
      eid: pki.eid,
      expiredEuiccCert: issueEuiccCertificate(pki.eum, {
        eid: pki.eid, keys, notBefore: new Date('2010-01-01T00:00:00Z'), notAfter: new Date('2015-01-01T00:00:00Z')
      }).certificateDer,
      outsideRangeCert: issueEuiccCertificate(pki.eum, { eid: eidForPrefix('89049033', 5), keys }).certificateDer,
      otherDevice: { cert: issueEuiccCertificate(pki.eum, { eid: otherEid, keys }).certificateDer, eid: otherEid }
    })
  })
}
