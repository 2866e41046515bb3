import type { ConnectPacket } from 'aedes'
import { DEVICE_ID_PATTERN, topics } from '../protocol/topics.ts'

/** CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2-3]. */
export const ReturnCode = {
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUsernameOrPassword: 4,
  NotAuthorized: 5
} as const

export const MAX_KEEPALIVE_SECONDS = 1200
const RESERVED_IDS = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty'])

export interface ConnectRefusal { returnCode: number, reason: string }

/** What a CONNECT must satisfy before credentials are even looked at (RELIABILITY.md B10–B13, B17):
 * the client id is a device id (so NUL, control characters, lone surrogates, wildcards and `/` are out);
 * the username is that same id (a device may only hold its own session); the Will, if any, is the
 * device's own `status` topic. Returns null when the CONNECT may proceed to authentication. */
export function checkConnect (packet: ConnectPacket, certificateId?: string): ConnectRefusal | null {
  const clientId = packet.clientId ?? ''
  if (clientId === '') return { returnCode: ReturnCode.IdentifierRejected, reason: 'empty-client-id' }
  if (!DEVICE_ID_PATTERN.test(clientId) || RESERVED_IDS.has(clientId)) {
    return { returnCode: ReturnCode.IdentifierRejected, reason: 'invalid-client-id' }
  }
  if (certificateId !== undefined) {
    // A client certificate admitted on TLS is the credential (CN = device or gateway id): no password
    // needed, the username may be absent, and the client id must be the certificate's [RELIABILITY 13].
    if (clientId !== certificateId) return { returnCode: ReturnCode.NotAuthorized, reason: 'certificate-client-id-mismatch' }
    if (packet.username !== undefined && packet.username !== clientId) return { returnCode: ReturnCode.NotAuthorized, reason: 'client-id-mismatch' }
  } else if (packet.username === undefined || packet.password === undefined) {
    return { returnCode: ReturnCode.NotAuthorized, reason: 'missing-credentials' }
  } else if (packet.username !== clientId) {
    // [RELIABILITY 13] the authenticated identity is the client id: no device can take over another's session.
    return { returnCode: ReturnCode.NotAuthorized, reason: 'client-id-mismatch' }
  }
  const will = packet.will
  if (will !== undefined && will !== null) {
    if (will.topic !== topics.status(clientId)) return { returnCode: ReturnCode.NotAuthorized, reason: 'will-topic' }
    if ((will.qos ?? 0) > 1) return { returnCode: ReturnCode.NotAuthorized, reason: 'will-qos' }
  }
  return null
}

/** Keepalive 0 (never) or above the limit is clamped to the limit, so a dead connection is always found. */
export function clampKeepalive (keepalive: number): number {
  return keepalive <= 0 || keepalive > MAX_KEEPALIVE_SECONDS ? MAX_KEEPALIVE_SECONDS : keepalive
}

export function refusal (returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode })
}
