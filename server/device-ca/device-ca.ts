// The hub's device CA: an ECDSA P-256 key and a self-signed certificate, made at first start and kept
// in the `settings` table (first writer wins when several processes start together, as for the JWT
// secret and the eIM identity). It signs the client certificates of devices (subject CN = device id)
// and of site gateways (subject OU=gateway, CN = gateway id, and the SAN URI of GATEWAY_URI_PREFIX),
// client-auth EKU only; the TLS listener trusts it alone for client certificates and tells the two
// kinds apart by their subject (broker/client-certificates.ts). Certificates are written
// with the project's DER writer and signed by node:crypto, whatever the device's key type: the
// signature is always the CA's ECDSA-SHA256.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto'
import { oid, sequence, tlv } from '../../esim/der-writer.ts'
import { OID, readCertificateFields } from '../../esim/certificate-fields.ts'
import { buildCertificate, extensions, keyIdentifier, type NameInput } from '../../esim/x509-builder.ts'
import { GATEWAY_SUBJECT_OU, GATEWAY_URI_PREFIX } from '../../broker/client-certificates.ts'

export const DEVICE_CA_SETTING = 'device-ca'

/** The CA certificate's lifetime: long, so devices never see it expire in service. */
export const DEVICE_CA_VALIDITY_YEARS = 25
/** A device certificate's lifetime (renewed by posting a new CSR; the old one can be revoked). */
export const DEVICE_CERTIFICATE_VALIDITY_DAYS = 730
/** notBefore is set this far in the past, for devices whose clock is a little behind. */
const CLOCK_SKEW_MS = 5 * 60_000

const OID_EXTENDED_KEY_USAGE = '2.5.29.37'
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

export type DeviceKeyType = 'ec-p256' | 'rsa-2048'

interface StoredCa { privateKey: string, certificate: string }

export interface IssuedCertificate {
  /** Lower-case hex, no leading zeros: the form the table, the revocation list and TLS lookups use. */
  serial: string
  der: Buffer
  pem: string
  /** SHA-256 of the DER, hex. */
  fingerprint: string
  notBefore: Date
  notAfter: Date
}

/** Whom a certificate names: a device, or a site gateway. */
export type CertificateHolder = { deviceId: string } | { gatewayId: string }

export type IssueInput = CertificateHolder & {
  publicKey: KeyObject
  /** Default: now − 5 min … now + DEVICE_CERTIFICATE_VALIDITY_DAYS. Tests pass a past window to get an
   * expired certificate from the real CA; the API never sets it. */
  validity?: { notBefore: Date, notAfter: Date }
}

/** A device: `CN=<device id>`, nothing else. A gateway: `OU=gateway, CN=<gateway id>` and the SAN URI
 * `urn:euicc-hub:gateway:<gateway id>`, so that neither can pass for the other. */
function subjectOf (holder: CertificateHolder): { name: NameInput, extensions: ReturnType<typeof extensions.custom>[] } {
  if ('deviceId' in holder) return { name: [[OID.commonName, holder.deviceId]], extensions: [] }
  const uri = tlv(0x86, new TextEncoder().encode(GATEWAY_URI_PREFIX + holder.gatewayId)) // GeneralName uniformResourceIdentifier [6]
  return {
    name: [[OID.organizationalUnit, GATEWAY_SUBJECT_OU], [OID.commonName, holder.gatewayId]],
    extensions: [extensions.custom(OID.subjectAltName, false, sequence(uri))]
  }
}

/** A serial of 16 random bytes, positive and of fixed length (RFC 5280: at most 20 octets). */
export function randomSerial (): bigint {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0]! & 0x7f) | 0x40
  return BigInt('0x' + bytes.toString('hex'))
}

export function newStoredDeviceCa (now = new Date()): string {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const name: NameInput = [[OID.organization, 'euicc-hub'], [OID.commonName, `euicc-hub device CA ${randomBytes(4).toString('hex')}`]]
  const notAfter = new Date(now)
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + DEVICE_CA_VALIDITY_YEARS)
  const der = buildCertificate({
    serialNumber: randomSerial(),
    issuer: name,
    subject: name,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter,
    publicKey,
    signingKey: privateKey,
    extensions: [
      extensions.basicConstraints(true, 0),
      extensions.keyUsage(['keyCertSign', 'cRLSign']),
      extensions.subjectKeyIdentifier(keyIdentifier(publicKey))
    ]
  })
  const stored: StoredCa = {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certificate: new X509Certificate(Buffer.from(der)).toString()
  }
  return JSON.stringify(stored)
}

export class DeviceCa {
  readonly certificate: X509Certificate
  readonly certificatePem: string
  private readonly subject: NameInput
  private readonly keyId: Uint8Array

  constructor (private readonly privateKey: KeyObject, certificatePem: string) {
    this.certificate = new X509Certificate(certificatePem)
    this.certificatePem = this.certificate.toString()
    if (!this.certificate.checkPrivateKey(privateKey)) throw new Error('the stored device CA key does not match its certificate')
    this.keyId = keyIdentifier(this.certificate.publicKey)
    // The issuer name of what it signs: its own subject, attribute by attribute as it was written.
    this.subject = readCertificateFields(new Uint8Array(this.certificate.raw)).subject.map((a) => [a.oid, a.value] as const)
  }

  /** Issues a client certificate for a device or a gateway (`subjectOf`), client-auth only, random serial. */
  issue (input: IssueInput): IssuedCertificate {
    const subject = subjectOf(input)
    const serial = randomSerial()
    const now = Date.now()
    const notBefore = input.validity?.notBefore ?? new Date(now - CLOCK_SKEW_MS)
    const notAfter = input.validity?.notAfter ?? new Date(now + DEVICE_CERTIFICATE_VALIDITY_DAYS * 86_400_000)
    const der = Buffer.from(buildCertificate({
      serialNumber: serial,
      issuer: this.subject,
      subject: subject.name,
      notBefore,
      notAfter,
      publicKey: input.publicKey,
      signingKey: this.privateKey,
      extensions: [
        extensions.basicConstraints(false),
        extensions.keyUsage(['digitalSignature']),
        extensions.custom(OID_EXTENDED_KEY_USAGE, false, sequence(oid(OID_CLIENT_AUTH))),
        extensions.subjectKeyIdentifier(keyIdentifier(input.publicKey)),
        extensions.authorityKeyIdentifier(this.keyId),
        ...subject.extensions
      ]
    }))
    const x509 = new X509Certificate(der)
    return {
      serial: serial.toString(16),
      der,
      pem: x509.toString(),
      fingerprint: createHash('sha256').update(der).digest('hex'),
      // Whole seconds, as encoded in the certificate.
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo)
    }
  }
}

/** Loads (creating on first use) the device CA through a `setting(key, create)` store. */
export async function loadDeviceCa (setting: (key: string, create: () => string) => Promise<string>): Promise<DeviceCa> {
  const stored = JSON.parse(await setting(DEVICE_CA_SETTING, () => newStoredDeviceCa())) as StoredCa
  return new DeviceCa(createPrivateKey(stored.privateKey), stored.certificate)
}
