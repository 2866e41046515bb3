import { readCertificateFields, nameAttribute, OID } from '../euicc/certificate-fields.ts'
import { parseCertificates } from './trust-store.ts'

export class CertificateInputError extends Error {}

/** The eUICC certificate (and optionally its EUM certificate) given when a device is registered, so that
 * installation results — which carry no certificate — can be verified before any other notification
 * arrives. Each is PEM or base64 DER. The EID is the eUICC subject's serialNumber. */
export function parseRegisteredCertificates (euiccCertificate: string, eumCertificate?: string): { eid: string, euiccDer: Buffer, eumDer: Buffer | null } {
  let euiccDer: Buffer
  let eumDer: Buffer | null = null
  let eid: string | undefined
  try {
    euiccDer = parseCertificates(euiccCertificate)[0].raw
    if (eumCertificate !== undefined) eumDer = parseCertificates(eumCertificate)[0].raw
    eid = nameAttribute(readCertificateFields(euiccDer).subject, OID.serialNumber)
  } catch (err) {
    throw new CertificateInputError('not a PEM or base64 DER certificate: ' + (err as Error).message)
  }
  // The chain, the validity and the EID's check digits are verified with every notification.
  if (eid === undefined || !/^[0-9]{32}$/.test(eid)) throw new CertificateInputError('the eUICC certificate carries no EID (subject serialNumber)')
  return { eid, euiccDer, eumDer }
}
