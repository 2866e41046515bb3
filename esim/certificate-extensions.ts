// Decoders for the X.509 extensions the GSMA chain check uses. Each returns undefined when the
// extension is absent and throws DerDecodeError when it is present but malformed.
import { DerCursor, DerDecodeError, decodeDer, valueBytes } from './der-reader.ts'
import type { DerNode } from './der-reader.ts'
import { bitIsSet, readBitString, readBoolean, readOctets, readOid, readString, readUnsigned } from './der-values.ts'
import { OID, readName } from './certificate-fields.ts'
import type { CertificateFields, NameAttribute } from './certificate-fields.ts'

function extension (cert: CertificateFields, oid: string): DerNode | undefined {
  const ext = cert.extensions.get(oid)
  return ext === undefined ? undefined : decodeDer(ext.value, { maxDepth: 16 })
}

export function subjectKeyIdentifier (cert: CertificateFields): Uint8Array | undefined {
  const node = extension(cert, OID.subjectKeyIdentifier)
  if (node === undefined) return undefined
  if (node.tag !== 0x04) throw new DerDecodeError('unexpected-tag', 'subjectKeyIdentifier must be an OCTET STRING', 0)
  return readOctets(node)
}

/** The keyIdentifier field of the authorityKeyIdentifier extension. */
export function authorityKeyIdentifier (cert: CertificateFields): Uint8Array | undefined {
  const node = extension(cert, OID.authorityKeyIdentifier)
  if (node === undefined) return undefined
  const c = new DerCursor(node, 'AuthorityKeyIdentifier')
  const id = c.optional(0x80)
  c.optional(0xa1)
  c.optional(0x82)
  c.finish()
  return id === undefined ? undefined : new Uint8Array(valueBytes(id))
}

export const KEY_USAGES = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement',
  'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'
] as const
export type KeyUsage = typeof KEY_USAGES[number]

export function keyUsage (cert: CertificateFields): Set<KeyUsage> | undefined {
  const node = extension(cert, OID.keyUsage)
  if (node === undefined) return undefined
  if (node.tag !== 0x03) throw new DerDecodeError('unexpected-tag', 'keyUsage must be a BIT STRING', 0)
  const bits = readBitString(node)
  return new Set(KEY_USAGES.filter((_, i) => bitIsSet(bits, i)))
}

export interface BasicConstraints { cA: boolean, pathLen?: number }

export function basicConstraints (cert: CertificateFields): BasicConstraints | undefined {
  const node = extension(cert, OID.basicConstraints)
  if (node === undefined) return undefined
  const c = new DerCursor(node, 'BasicConstraints')
  const caNode = c.optional(0x01)
  const cA = caNode !== undefined && readBoolean(caNode)
  if (caNode !== undefined && !cA) throw new DerDecodeError('malformed', 'cA FALSE must be omitted in DER', caNode.start)
  const pathNode = c.optional(0x02)
  c.finish()
  return pathNode === undefined ? { cA } : { cA, pathLen: readUnsigned(pathNode, 255) }
}

export function certificatePolicies (cert: CertificateFields): string[] | undefined {
  const node = extension(cert, OID.certificatePolicies)
  if (node === undefined) return undefined
  const list = new DerCursor(node, 'CertificatePolicies').node.children
  if (list.length === 0) throw new DerDecodeError('malformed', 'certificatePolicies is empty', 0)
  return list.map(info => {
    const c = new DerCursor(info, 'PolicyInformation')
    const oid = readOid(c.next(0x06, 'policyIdentifier'))
    c.optional(0x30)
    c.finish()
    return oid
  })
}

export interface DirectoryNameConstraints {
  /** directoryName bases of permittedSubtrees; other GeneralName forms are left out. */
  permitted: NameAttribute[][]
  excluded: NameAttribute[][]
}

export function nameConstraints (cert: CertificateFields): DirectoryNameConstraints | undefined {
  const node = extension(cert, OID.nameConstraints)
  if (node === undefined) return undefined
  const c = new DerCursor(node, 'NameConstraints')
  const permitted = c.optional(0xa0)
  const excluded = c.optional(0xa1)
  c.finish()
  if (permitted === undefined && excluded === undefined) throw new DerDecodeError('malformed', 'empty NameConstraints', 0)
  return { permitted: directoryNames(permitted), excluded: directoryNames(excluded) }
}

function directoryNames (subtrees: DerNode | undefined): NameAttribute[][] {
  const out: NameAttribute[][] = []
  for (const subtree of subtrees === undefined ? [] : new DerCursor(subtrees, 'GeneralSubtrees').node.children) {
    const c = new DerCursor(subtree, 'GeneralSubtree')
    const base = subtree.children[0]
    if (base === undefined) throw new DerDecodeError('truncated', 'GeneralSubtree without a base', subtree.start)
    if (base.tag === 0xa4) {
      const dir = new DerCursor(base, 'directoryName')
      out.push(readName(dir.next(0x30, 'Name')))
      dir.finish()
    }
    c.next(base.tag, 'base')
    c.optional(0x80)
    c.optional(0x81)
    c.finish()
  }
  return out
}

/** GSMA permittedEins (2.23.146.1.2.2.0): SEQUENCE OF PrintableString, EID prefixes. */
export function permittedEins (cert: CertificateFields): string[] | undefined {
  const node = extension(cert, OID.permittedEins)
  if (node === undefined) return undefined
  return new DerCursor(node, 'PermittedEins').node.children.map(s => {
    if (s.tag !== 0x13) throw new DerDecodeError('unexpected-tag', 'permittedEins entries must be PrintableString', s.start)
    return readString(s)
  })
}
