// Client certificates on the MQTT/TLS listener. Node's TLS verifies the chain against the device CA
// (`ca`, `requestCert`); `rejectUnauthorized` stays false so that devices without a certificate can
// still authenticate by id and secret. Every accepted socket then passes `admit` before any MQTT byte
// is read: a certificate Node did not authorize (another CA, expired, not yet valid, wrong purpose), a
// revoked one, or one whose CN is not a device id closes the socket. An admitted certificate is the
// device's credential: the broker reads it back from the connection (`certificateIdentityOf`) at
// CONNECT, where the client id must equal the CN and the hub checks the device is still there and
// enabled.
import type { Duplex } from 'node:stream'
import type { TLSSocket, TlsOptions } from 'node:tls'
import { DEVICE_ID_PATTERN } from '../protocol/topics.ts'

export interface CertificateIdentity {
  /** The certificate's subject CN. */
  deviceId: string
  /** Lower-case hex without leading zeros. */
  serial: string
}

export type Admission =
  | { ok: true, identity: CertificateIdentity | null }
  | { ok: false, reason: 'certificate-untrusted' | 'certificate-revoked' | 'certificate-subject', detail: string }

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

  constructor (readonly caPem: string, revoked: Iterable<string> = []) {
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
    if (!socket.authorized) {
      return { ok: false, reason: 'certificate-untrusted', detail: `client certificate refused by TLS: ${String(socket.authorizationError)}` }
    }
    const serial = normalizeSerial(peer.serialNumber)
    if (this.revoked.has(serial)) return { ok: false, reason: 'certificate-revoked', detail: `revoked client certificate ${serial}` }
    const cn: unknown = peer.subject?.CN
    if (typeof cn !== 'string' || !DEVICE_ID_PATTERN.test(cn)) {
      return { ok: false, reason: 'certificate-subject', detail: `client certificate ${serial} does not name a device` }
    }
    return { ok: true, identity: { deviceId: cn, serial } }
  }
}

/** The admitted certificate of a connection (the stream Aedes got: the guard exposes the socket
 * underneath as `rawSocket`), or null for connections without one (TCP, WebSocket, password on TLS). */
export function certificateIdentityOf (conn: Duplex | { rawSocket?: Duplex } | null | undefined): CertificateIdentity | null {
  const socket = (conn as { rawSocket?: Duplex } | null | undefined)?.rawSocket
  return socket === undefined ? null : identities.get(socket) ?? null
}
