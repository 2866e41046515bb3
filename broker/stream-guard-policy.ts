// What the stream guard (broker/stream-guard.ts) enforces: its limits, and the rejections it reports (the
// `reason` label of `hub_mqtt_stream_rejections_total`).

export interface StreamGuardLimits {
  /** whole packet (fixed header + remaining length) larger than this → close; the hub's hard frame cap
   * (`HUB_MQTT_MAX_FRAME_BYTES`) */
  maxPacketBytes: number
  /** bytes received before a complete CONNECT larger than this → close */
  maxBytesBeforeConnect: number
  /** the CONNECT packet must be complete within this many ms of guardStream() → close */
  connectDeadlineMs: number
}

export const defaultStreamGuardLimits: StreamGuardLimits = Object.freeze({
  maxPacketBytes: 1024 * 1024,
  maxBytesBeforeConnect: 64 * 1024,
  connectDeadlineMs: 10_000
})

export type GuardRejectionCode =
  | 'packet-too-large'
  | 'pre-connect-budget'
  | 'connect-deadline'
  | 'malformed-length'
  | 'reserved-packet-type'
  | 'first-packet-not-connect'
  | 'second-connect'
  | 'unsupported-protocol'
  | 'bad-publish-flags'
  | 'publish-message-id-zero'
  | 'bad-fixed-header-flags'
  | 'server-packet'
  | 'message-id-zero'
  | 'invalid-string'
  | 'invalid-topic'
  | 'no-topic-filter'
  | 'bad-subscribe-options'

export interface GuardRejection { code: GuardRejectionCode; detail: string }

export function rejection (code: GuardRejectionCode, detail: string): GuardRejection {
  return { code, detail }
}
