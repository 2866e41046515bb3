// Builds X.509 v3 certificates with ECDSA-SHA256 signatures from node:crypto keys: the TBSCertificate
// is written with der-writer and signed with node:crypto. For the test PKI and the device simulator.
import { createHash, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { decodeDer, valueBytes } from './der-reader.ts'
import { bitString, boolean, integer, namedBits, octetString, oid, printableString, sequence, set, time, tlv, utf8String } from './der-writer.ts'
import { OID } from './certificate-fields.ts'
import { KEY_USAGES } from './certificate-extensions.ts'
import type { KeyUsage } from './certificate-extensions.ts'

/** [attribute OID, value]; C and serialNumber are PrintableString, the rest UTF8String. */
export type NameInput = ReadonlyArray<readonly [string, string]>

export function encodeName (name: NameInput): Uint8Array {
  return sequence(...name.map(([type, value]) => {
    const printable = type === OID.country || type === OID.serialNumber
    return set(sequence(oid(type), printable ? printableString(value) : utf8String(value)))
  }))
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 method 1), as the GSMA certificates use. */
export function keyIdentifier (publicKey: KeyObject): Uint8Array {
  const spki = decodeDer(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })))
  const bits = valueBytes(spki.children[1]!).subarray(1)
  return new Uint8Array(createHash('sha1').update(bits).digest())
}

function extension (type: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(oid(type), ...(critical ? [boolean(true)] : []), octetString(value))
}

export const extensions = {
  subjectKeyIdentifier: (id: Uint8Array) => extension(OID.subjectKeyIdentifier, false, octetString(id)),
  authorityKeyIdentifier: (id: Uint8Array) => extension(OID.authorityKeyIdentifier, false, sequence(octetString(id, 0x80))),
  keyUsage: (usages: readonly KeyUsage[]) =>
    extension(OID.keyUsage, true, namedBits(usages.map(u => KEY_USAGES.indexOf(u)))),
  basicConstraints: (cA: boolean, pathLen?: number) => extension(OID.basicConstraints, true,
    sequence(...(cA ? [boolean(true)] : []), ...(pathLen === undefined ? [] : [integer(pathLen)]))),
  certificatePolicies: (policies: readonly string[]) =>
    extension(OID.certificatePolicies, true, sequence(...policies.map(p => sequence(oid(p))))),
  /** permittedSubtrees with one directoryName, e.g. [[O, 'RSP Test EUM'], [serialNumber, '89049032']]. */
  nameConstraints: (permitted: NameInput) =>
    extension(OID.nameConstraints, true, sequence(tlv(0xa0, sequence(tlv(0xa4, encodeName(permitted)))))),
  permittedEins: (prefixes: readonly string[]) =>
    extension(OID.permittedEins, false, sequence(...prefixes.map(p => printableString(p)))),
  custom: (type: string, critical: boolean, value: Uint8Array) => extension(type, critical, value)
}

export interface CertificateInput {
  serialNumber: bigint | number
  issuer: NameInput
  subject: NameInput
  notBefore: Date
  notAfter: Date
  /** The subject's public key. */
  publicKey: KeyObject
  /** The issuer's private key. */
  signingKey: KeyObject
  /** Encoded Extension elements (see `extensions`). */
  extensions: readonly Uint8Array[]
}

const ECDSA_SHA256 = sequence(oid(OID.ecdsaWithSha256))

export function buildCertificate (input: CertificateInput): Uint8Array {
  const tbs = sequence(
    tlv(0xa0, integer(2)),
    integer(input.serialNumber),
    ECDSA_SHA256,
    encodeName(input.issuer),
    sequence(time(input.notBefore), time(input.notAfter)),
    encodeName(input.subject),
    new Uint8Array(input.publicKey.export({ type: 'spki', format: 'der' })),
    ...(input.extensions.length === 0 ? [] : [tlv(0xa3, sequence(...input.extensions))]))
  const signature = new Uint8Array(sign('sha256', tbs, { key: input.signingKey, dsaEncoding: 'der' }))
  return sequence(tbs, ECDSA_SHA256, bitString(signature))
}
