// Client certificates on the MQTT/TLS listener. Node's TLS verifies the chain against the device CA
// (`ca`, `requestCert`); `rejectUnauthorized` stays false so that devices without a certificate can
// still authenticate by id and secret. Every accepted socket then passes `admit` before any MQTT byte
// is read. The subject tells the two kinds the CA issues apart: a device's is `CN=<device id>` alone, a
// site gateway's `OU=gateway, CN=<gateway id>` with the SAN URI `urn:euicc-hub:gateway:<gateway id>`
// (both or neither: anything in between names nobody). For a device, a certificate Node did not
// authorize (another CA, expired, not yet valid, wrong purpose), a revoked one, or a subject that names
// nobody closes the socket. A gateway's expired (or not yet valid) certificate of this CA, and a
// revoked one, are admitted to be refused at CONNECT with return code 5, which a site's Mosquitto logs
// as "not authorised" rather than as a TLS error. An admitted certificate is the credential: the broker
// reads it back from the connection (`certificateIdentityOf`) at CONNECT, where the client id must equal
// the CN and the hub checks the certificate in its table and its holder is still there and enabled.
import { X509Certificate } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { PeerCertificate, TLSSocket, TlsOptions } from 'node:tls'
import { DEVICE_ID_PATTERN } from '../protocol/topics.ts'

/** The subject OU of a site gateway's certificate. */
export const GATEWAY_SUBJECT_OU = 'gateway'
/** A site gateway's certificate names it in a SAN URI: this prefix, then the gateway id. */
export const GATEWAY_URI_PREFIX = 'urn:euicc-hub:gateway:'

export interface CertificateIdentity {
  /** Whom it names: a device, or a site gateway. */
  kind: 'device' | 'gateway'
  /** The certificate's subject CN: the device or gateway id, which the client id must equal. */
  id: string
  /** Lower-case hex without leading zeros. */
  serial: string
  /** A gateway's certificate outside its validity (checked against the CA here): refused at CONNECT. */
  invalid?: 'certificate-expired' | 'certificate-not-yet-valid'
}

export type Admission =
  | { ok: true, identity: CertificateIdentity | null }
  | { ok: false, reason: 'certificate-untrusted' | 'certificate-revoked' | 'certificate-subject', detail: string }

const VALIDITY_ERRORS: Record<string, NonNullable<CertificateIdentity['invalid']>> = {
  CERT_HAS_EXPIRED: 'certificate-expired',
  CERT_NOT_YET_VALID: 'certificate-not-yet-valid'
}

/** Serials as hex compare equal whatever their case and leading zeros (Node reports `0A1B…`). */
export function normalizeSerial (hex: string): string {
  return /^[0-9a-fA-F]{1,64}$/.test(hex) ? BigInt('0x' + hex).toString(16) : hex.toLowerCase()
}

const identities = new WeakMap<object, CertificateIdentity>()

/** The trusted CA, the revoked serials (kept in memory: checked on every handshake) and the open
 * sockets of each admitted certificate (closed when it is revoked). */
export class ClientCertificateGate {
  private readonly revoked = new Set<string>()
  private readonly live = new Map<string, Set<TLSSocket>>()
  private readonly ca: X509Certificate

  constructor (readonly caPem: string, revoked: Iterable<string> = []) {
    this.ca = new X509Certificate(caPem)
    for (const serial of revoked) this.revoked.add(normalizeSerial(serial))
  }

  tlsOptions (): Pick<TlsOptions, 'ca' | 'requestCert' | 'rejectUnauthorized'> {
    return { ca: [this.caPem], requestCert: true, rejectUnauthorized: false }
  }

  isRevoked (serial: string): boolean {
    return this.revoked.has(normalizeSerial(serial))
  }

  /** Checks a socket right after its handshake; a refused socket is destroyed here. */
  admit (socket: TLSSocket): Admission {
    const verdict = this.check(socket)
    if (!verdict.ok) {
      socket.destroy()
      return verdict
    }
    if (verdict.identity !== null) {
      const { serial } = verdict.identity
      identities.set(socket, verdict.identity)
      let open = this.live.get(serial)
      if (open === undefined) this.live.set(serial, open = new Set())
      open.add(socket)
      socket.once('close', () => {
        open.delete(socket)
        if (open.size === 0 && this.live.get(serial) === open) this.live.delete(serial)
      })
    }
    return verdict
  }

  /** Refuses these serials from now on, and closes the connections that were admitted with them. */
  revoke (serials: Iterable<string>): void {
    for (const raw of serials) {
      const serial = normalizeSerial(raw)
      this.revoked.add(serial)
      for (const socket of this.live.get(serial) ?? []) socket.destroy()
      this.live.delete(serial)
    }
  }

  private check (socket: TLSSocket): Admission {
    const peer = socket.getPeerCertificate()
    // No certificate presented: the device authenticates with its id and secret at CONNECT.
    if (peer === null || typeof peer !== 'object' || peer.raw === undefined) return { ok: true, identity: null }
    const serial = normalizeSerial(peer.serialNumber)
    const named = holderOf(peer)
    if (!socket.authorized) {
      const invalid = VALIDITY_ERRORS[String(socket.authorizationError)]
      // Only the validity is wrong, and this CA signed it: a gateway hears why at CONNECT.
      if (named?.kind === 'gateway' && invalid !== undefined && this.signed(peer)) return { ok: true, identity: { ...named, serial, invalid } }
      return { ok: false, reason: 'certificate-untrusted', detail: `client certificate refused by TLS: ${String(socket.authorizationError)}` }
    }
    if (named === null) return { ok: false, reason: 'certificate-subject', detail: `client certificate ${serial} names no device or gateway` }
    if (named.kind === 'device' && this.revoked.has(serial)) return { ok: false, reason: 'certificate-revoked', detail: `revoked client certificate ${serial}` }
    return { ok: true, identity: { ...named, serial } }
  }

  /** Issued by this CA: its issuer is the CA and the CA's key verifies its signature. */
  private signed (peer: PeerCertificate): boolean {
    try {
      const certificate = new X509Certificate(peer.raw)
      return certificate.checkIssued(this.ca) && certificate.verify(this.ca.publicKey)
    } catch {
      return false
    }
  }
}

/** Whom a certificate's subject names, or null when it names nobody: a device is `CN=<id>` alone; a
 * gateway `OU=gateway, CN=<id>` and exactly the SAN URI of that id. Nothing else is accepted. */
function holderOf (peer: PeerCertificate): { kind: 'device' | 'gateway', id: string } | null {
  const subject = (peer.subject ?? {}) as unknown as Record<string, unknown>
  const cn = subject.CN
  if (typeof cn !== 'string' || !DEVICE_ID_PATTERN.test(cn)) return null
  const others = Object.keys(subject).filter((key) => key !== 'CN')
  const san = peer.subjectaltname ?? ''
  if (others.length === 0 && !san.includes(GATEWAY_URI_PREFIX)) return { kind: 'device', id: cn }
  const gateway = others.length === 1 && subject.OU === GATEWAY_SUBJECT_OU && san === `URI:${GATEWAY_URI_PREFIX}${cn}`
  return gateway ? { kind: 'gateway', id: cn } : null
}

/** The admitted certificate of a connection (the stream Aedes got: the guard exposes the socket
 * underneath as `rawSocket`), or null for connections without one (TCP, WebSocket, password on TLS). */
export function certificateIdentityOf (conn: Duplex | { rawSocket?: Duplex } | null | undefined): CertificateIdentity | null {
  const socket = (conn as { rawSocket?: Duplex } | null | undefined)?.rawSocket
  return socket === undefined ? null : identities.get(socket) ?? null
}
