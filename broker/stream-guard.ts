// Stream guard: sits between an accepted socket and `aedes.handle(stream)` (docs/broker.md).
//
// Aedes 1.2.0 buffers whatever packet length a client claims and has no byte budget or deadline before
// CONNECT (RELIABILITY.md A.1-A.4, B.8, B.9, C.21). The guard tracks MQTT packet boundaries incrementally
// over arbitrary chunking and closes the connection as soon as a framing rule is broken. Bytes are passed
// through unchanged, chunk by chunk; only the CONNECT packet is held back (bounded by the pre-CONNECT
// budget) so that Aedes never sees a CONNECT the hub refuses. Spec references are to MQTT 3.1.1.
//
// After CONNECT it also checks what Mosquitto checks and Aedes 1.2.0 does not (RELIABILITY.md G.54, the
// Mosquitto broker vectors in test/broker/mosquitto-replay.test.ts): the remaining length of the fixed-size
// packets, packets only a server may send, non-zero packet identifiers, and every UTF-8 string of PUBLISH,
// SUBSCRIBE and UNSUBSCRIBE (topic names and filters), one byte at a time, without buffering them.
//
// The pieces, each with one job:
//   stream-guard-policy.ts  the limits and the rejection codes
//   guarded-stream.ts       the Duplex: holds CONNECT back, forwards the rest, closes or refuses
//   frame-inspector.ts      the incremental framing state machine (a few numbers per connection)
//   mqtt-packet-rules.ts    the rules of one fixed header and of the CONNECT protocol
//   topic-string-check.ts   UTF-8 and wildcard rules of topic names and filters, one byte at a time
import type { Duplex } from 'node:stream'
import { GuardedStream } from './guarded-stream.ts'
import type { GuardRejection, StreamGuardLimits } from './stream-guard-policy.ts'

export { defaultStreamGuardLimits } from './stream-guard-policy.ts'
export type { GuardRejection, GuardRejectionCode, StreamGuardLimits } from './stream-guard-policy.ts'

/**
 * Wraps an accepted socket for `aedes.handle()`. Bytes pass through unchanged until a framing rule is
 * broken; then `onReject` is called once and the socket is closed.
 */
export function guardStream (
  socket: Duplex,
  limits: StreamGuardLimits,
  onReject?: (r: GuardRejection) => void
): Duplex {
  return new GuardedStream(socket, limits, onReject)
}
