import type { X509Certificate } from 'node:crypto'
import { verifyEuiccChain } from '../../esim/certificate-chain.ts'
import { readCertificateFields, nameAttribute, OID } from '../../esim/certificate-fields.ts'
import { parseCertificates } from './trust-store.ts'

/** A registered certificate the hub refuses; `reason` is one of the verifier's (`untrusted-ci`,
 * `eid-not-permitted`, `chain`, `expired`, `malformed`, `no-trust-anchor`, `eid-mismatch`) or `input`. */
export class CertificateInputError extends Error {
  constructor (readonly reason: string, message: string) {
    super(message)
  }
}

/** The eUICC certificate and its EUM certificate given when a device is registered, so that installation
 * results — which carry no certificate — can be verified before any other notification arrives. Each is
 * PEM or base64 DER; the EID is the eUICC subject's serialNumber. They get the same GSMA chain check as
 * a certificate learned from a notification: eUICC ← EUM ← one of `trustAnchors` (the platform's and the
 * registering tenant's), key usages and policies, validity, and the EID inside the EUM's permitted range.
 * The pipeline verifies the chain again with every notification, against the anchors of that moment. */
export function verifyRegisteredCertificates (euiccCertificate: string, eumCertificate: string | undefined, trustAnchors: readonly X509Certificate[], expectedEid?: string): { eid: string, euiccDer: Buffer, eumDer: Buffer } {
  if (eumCertificate === undefined) {
    throw new CertificateInputError('input', 'eumCertificate is required with euiccCertificate: without it the chain to a trusted CI cannot be verified')
  }
  let euiccDer: Buffer
  let eumDer: Buffer
  let eid: string | undefined
  try {
    euiccDer = parseCertificates(euiccCertificate)[0].raw
    eumDer = parseCertificates(eumCertificate)[0].raw
    eid = nameAttribute(readCertificateFields(euiccDer).subject, OID.serialNumber)
  } catch (err) {
    throw new CertificateInputError('input', 'not a PEM or base64 DER certificate: ' + (err as Error).message)
  }
  if (eid === undefined || !/^[0-9]{32}$/.test(eid)) throw new CertificateInputError('input', 'the eUICC certificate carries no EID (subject serialNumber)')
  const chain = verifyEuiccChain(euiccDer, eumDer, { trustAnchors, expectedEid })
  if (!chain.ok) throw new CertificateInputError(chain.reason, `${chain.reason}: ${chain.detail}`)
  return { eid: chain.eid, euiccDer, eumDer }
}
