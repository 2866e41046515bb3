// The parts of an X.509 certificate the GSMA checks need, read with the strict DER reader:
// names as attribute lists, validity (GeneralizedTime up to 9999: test eUICCs run to 7496) and the
// extensions. Signatures and public keys are left to node:crypto's X509Certificate.
import { DerCursor, DerDecodeError, decodeDer, tlvBytes, valueBytes } from './der-reader.ts'
import type { DerNode } from './der-reader.ts'
import { readBoolean, readInteger, readOid, readString, readTime } from './der-values.ts'

export const OID = {
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  country: '2.5.4.6',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  permittedEins: '2.23.146.1.2.2.0',
  policyEuicc: '2.23.146.1.2.1.1',
  policyEum: '2.23.146.1.2.1.2',
  /** EUM certificate variants Ov3/A/B/C of SGP.22 v3 (as read by osmo-smdpp). */
  policyEumV3: '2.23.146.1.2.1.0.0.0'
} as const

export interface NameAttribute { oid: string, value: string }

export interface CertificateExtension { oid: string, critical: boolean, value: Uint8Array }

export interface CertificateFields {
  tbs: Uint8Array
  serialNumber: bigint
  signatureAlgorithm: string
  issuer: NameAttribute[]
  subject: NameAttribute[]
  notBefore: Date
  notAfter: Date
  extensions: ReadonlyMap<string, CertificateExtension>
}

const MAX_CERTIFICATE_BYTES = 16 * 1024

/** Throws DerDecodeError only. */
export function readCertificateFields (der: Uint8Array): CertificateFields {
  const cert = new DerCursor(decodeDer(der, { maxLength: MAX_CERTIFICATE_BYTES }), 'Certificate')
  const tbsNode = cert.next(0x30, 'tbsCertificate')
  const outerAlg = algorithm(cert.next(0x30, 'signatureAlgorithm'))
  cert.next(0x03, 'signatureValue')
  cert.finish()

  const tbs = new DerCursor(tbsNode, 'TBSCertificate')
  const version = tbs.optional(0xa0)
  if (version !== undefined) {
    const v = new DerCursor(version, 'version')
    const n = readInteger(v.next(0x02, 'version'))
    v.finish()
    if (n !== 2n) throw new DerDecodeError('malformed', `certificate version ${n + 1n}, expected 3`, version.start)
  }
  const serialNumber = readInteger(tbs.next(0x02, 'serialNumber'))
  const signatureAlgorithm = algorithm(tbs.next(0x30, 'signature'))
  if (signatureAlgorithm !== outerAlg) throw new DerDecodeError('malformed', 'inner and outer signature algorithms differ', tbsNode.start)
  const issuer = readName(tbs.next(0x30, 'issuer'))
  const validity = tbs.next(0x30, 'validity')
  if (validity.children.length !== 2) throw new DerDecodeError('malformed', 'validity must hold two times', validity.start)
  const notBefore = readTime(validity.children[0]!)
  const notAfter = readTime(validity.children[1]!)
  const subject = readName(tbs.next(0x30, 'subject'))
  tbs.next(0x30, 'subjectPublicKeyInfo')
  tbs.optional(0x81)
  tbs.optional(0x82)
  const extNode = tbs.optional(0xa3)
  tbs.finish()
  return {
    tbs: tlvBytes(tbsNode),
    serialNumber,
    signatureAlgorithm,
    issuer,
    subject,
    notBefore,
    notAfter,
    extensions: extNode === undefined ? new Map() : readExtensions(extNode)
  }
}

function algorithm (node: DerNode): string {
  const c = new DerCursor(node, 'AlgorithmIdentifier')
  const oid = readOid(c.next(0x06, 'algorithm'))
  c.finish(true)
  return oid
}

/** Name ::= SEQUENCE OF SET OF AttributeTypeAndValue, flattened in order. */
export function readName (node: DerNode): NameAttribute[] {
  const out: NameAttribute[] = []
  for (const rdn of new DerCursor(node, 'Name').node.children) {
    if (rdn.tag !== 0x31 || rdn.children.length === 0) throw new DerDecodeError('malformed', 'Name: expected a non-empty SET', rdn.start)
    for (const atv of rdn.children) {
      const c = new DerCursor(atv, 'AttributeTypeAndValue')
      const oid = readOid(c.next(0x06, 'type'))
      const valueNode = atv.children[1]
      if (valueNode === undefined) throw new DerDecodeError('truncated', 'attribute without a value', atv.start)
      out.push({ oid, value: readString(valueNode) })
      if (atv.children.length !== 2) throw new DerDecodeError('trailing-data', 'attribute with extra elements', atv.start)
    }
  }
  return out
}

function readExtensions (node: DerNode): Map<string, CertificateExtension> {
  const wrapper = new DerCursor(node, 'extensions')
  const list = new DerCursor(wrapper.next(0x30, 'Extensions'), 'Extensions')
  wrapper.finish()
  const out = new Map<string, CertificateExtension>()
  for (const ext of list.node.children) {
    const c = new DerCursor(ext, 'Extension')
    const oid = readOid(c.next(0x06, 'extnID'))
    const criticalNode = c.optional(0x01)
    const critical = criticalNode !== undefined && readBoolean(criticalNode)
    if (criticalNode !== undefined && !critical) throw new DerDecodeError('malformed', 'critical FALSE must be omitted in DER', ext.start)
    const value = valueBytes(c.next(0x04, 'extnValue'))
    c.finish()
    if (out.has(oid)) throw new DerDecodeError('malformed', `extension ${oid} appears twice`, ext.start)
    out.set(oid, { oid, critical, value })
  }
  return out
}

/** The first value of attribute `oid` in a name. */
export function nameAttribute (name: readonly NameAttribute[], oid: string): string | undefined {
  return name.find(a => a.oid === oid)?.value
}

export function formatName (name: readonly NameAttribute[]): string {
  const short: Record<string, string> = {
    [OID.commonName]: 'CN',
    [OID.serialNumber]: 'serialNumber',
    [OID.country]: 'C',
    [OID.organization]: 'O',
    [OID.organizationalUnit]: 'OU'
  }
  return name.map(a => `${short[a.oid] ?? a.oid}=${a.value}`).join(', ')
}
