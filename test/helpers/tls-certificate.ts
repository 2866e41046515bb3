// A throwaway TLS server certificate for the hub's listeners in tests (HTTPS, MQTT over TLS), and the
// key and CSR a client makes to get a certificate from the hub's device CA.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OID } from '../../esim/certificate-fields.ts'
import { bitString, integer, oid, sequence, tlv } from '../../esim/der-writer.ts'
import { buildCertificate, encodeName, extensions } from '../../esim/x509-builder.ts'
import type { Teardown } from './test-hub.ts'

/** A throwaway self-signed server certificate for localhost / 127.0.0.1, made with the project's own
 * X.509 builder, written as PEM files. */
export function throwawayCertificate (t: Teardown): { certFile: string, keyFile: string, certPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const name = [[OID.commonName, 'localhost']] as const
  const subjectAltName = sequence(tlv(0x82, new TextEncoder().encode('localhost')), tlv(0x87, new Uint8Array([127, 0, 0, 1])))
  const extendedKeyUsage = sequence(oid('1.3.6.1.5.5.7.3.1'))
  const der = buildCertificate({
    serialNumber: BigInt(Date.now()),
    issuer: name,
    subject: name,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    publicKey,
    signingKey: privateKey,
    extensions: [
      extensions.basicConstraints(false),
      extensions.keyUsage(['digitalSignature']),
      extensions.custom(OID.subjectAltName, false, subjectAltName),
      extensions.custom('2.5.29.37', false, extendedKeyUsage)
    ]
  })
  const certPem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
  const dir = mkdtempSync(join(tmpdir(), 'euicc-hub-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  writeFileSync(certFile, certPem)
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  return { certFile, keyFile, certPem }
}

export function pemOf (label: string, der: Uint8Array): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`
}

/** A P-256 key pair (PEM private key) and a PKCS#10 request for it, as a device or gateway makes them
 * (`openssl req -new -newkey ec …`), written with the project's DER writer. */
export function p256Request (cn = 'client'): { privateKey: KeyObject, keyPem: string, csr: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const info = sequence(integer(0), encodeName([[OID.commonName, cn]]), new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), tlv(0xa0))
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' })
  const csr = pemOf('CERTIFICATE REQUEST', sequence(info, sequence(oid('1.2.840.10045.4.3.2')), bitString(new Uint8Array(signature))))
  return { privateKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csr }
}
