// PKCS#10 certificate signing requests from devices: ECDSA P-256 or RSA-2048 keys only. The structure
// is read with the project's strict DER reader and the key with node:crypto; the self-signature (proof
// that the device holds the private key) is checked over the exact bytes received: by node:crypto for
// EC, by node-forge for RSA (PKCS#1 v1.5, the signature RSA modems' tools make). The CSR's subject
// and attributes are ignored: the certificate names the device the request was posted for.
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import forge from 'node-forge'
import { DerCursor, DerDecodeError, decodeDer, tlvBytes } from '../../esim/der-reader.ts'
import { readBitString, readInteger, readOid } from '../../esim/der-values.ts'
import { errors } from '../errors.ts'
import type { DeviceKeyType } from './device-ca.ts'

/** Largest CSR accepted, as PEM text (an RSA-2048 request is ~1 KB). */
export const MAX_CSR_CHARS = 16 * 1024

export interface ParsedCsr {
  keyType: DeviceKeyType
  publicKey: KeyObject
}

const ECDSA_HASHES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512'
}

const PEM = /^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----$/

/** Throws `errors.InvalidCsr` or `errors.UnsupportedKeyType` only (answered as they are, 400). */
export function parseCsr (pem: string): ParsedCsr {
  if (pem.length > MAX_CSR_CHARS) throw new errors.InvalidCsr(`a CSR is at most ${MAX_CSR_CHARS} characters`)
  const match = PEM.exec(pem.trim())
  if (match === null) throw new errors.InvalidCsr('expected one PEM block "-----BEGIN CERTIFICATE REQUEST-----"')
  const der = new Uint8Array(Buffer.from(match[2]!.replace(/\s+/g, ''), 'base64'))
  let info: Uint8Array, spki: Uint8Array, signatureOid: string, signature: Uint8Array
  try {
    const request = new DerCursor(decodeDer(der, { maxLength: MAX_CSR_CHARS, maxDepth: 16 }), 'CertificationRequest')
    const infoNode = request.next(0x30, 'certificationRequestInfo')
    const algorithm = new DerCursor(request.next(0x30, 'signatureAlgorithm'), 'AlgorithmIdentifier')
    signatureOid = readOid(algorithm.next(0x06, 'algorithm'))
    algorithm.finish(true)
    const bits = readBitString(request.next(0x03, 'signature'))
    request.finish()
    if (bits.unusedBits !== 0) throw new DerDecodeError('malformed', 'signature with unused bits')
    signature = bits.bytes
    const fields = new DerCursor(infoNode, 'CertificationRequestInfo')
    const version = readInteger(fields.next(0x02, 'version'))
    if (version !== 0n) throw new DerDecodeError('malformed', `CSR version ${version + 1n}, expected 1`)
    fields.next(0x30, 'subject')
    spki = tlvBytes(fields.next(0x30, 'subjectPKInfo'))
    fields.optional(0xa0) // attributes
    fields.finish()
    info = tlvBytes(infoNode)
  } catch (err) {
    if (err instanceof DerDecodeError) throw new errors.InvalidCsr(`malformed CSR: ${err.message}`)
    throw err
  }
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
  } catch {
    throw new errors.UnsupportedKeyType('the CSR\'s public key is not one this hub can read; use ECDSA P-256 or RSA-2048')
  }
  const keyType = supportedKeyType(publicKey)
  if (keyType === 'ec-p256') {
    const hash = ECDSA_HASHES[signatureOid]
    if (hash === undefined) throw new errors.InvalidCsr(`signature algorithm ${signatureOid} does not go with an EC key`)
    if (!verify(hash, info, { key: publicKey, dsaEncoding: 'der' }, signature)) throw new errors.InvalidCsr('the CSR\'s signature does not verify')
  } else {
    verifyRsaCsr(der)
  }
  return { keyType, publicKey }
}

function supportedKeyType (key: KeyObject): DeviceKeyType {
  const details = key.asymmetricKeyDetails ?? {}
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ec-p256'
  if (key.asymmetricKeyType === 'rsa' && details.modulusLength === 2048) return 'rsa-2048'
  const what = key.asymmetricKeyType === 'ec'
    ? `EC ${details.namedCurve ?? 'curve'}`
    : key.asymmetricKeyType === 'rsa' ? `RSA-${details.modulusLength ?? '?'}` : String(key.asymmetricKeyType)
  throw new errors.UnsupportedKeyType(`${what} keys are not accepted; use ECDSA P-256 or RSA-2048`)
}

/** The RSA self-signature, by node-forge, over the same DER bytes. */
function verifyRsaCsr (der: Uint8Array): void {
  let valid: boolean
  try {
    const csr = forge.pki.certificationRequestFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary'))))
    valid = csr.verify()
  } catch (err) {
    throw new errors.InvalidCsr(`the RSA CSR cannot be verified: ${(err as Error).message}`)
  }
  if (!valid) throw new errors.InvalidCsr('the CSR\'s signature does not verify')
}
