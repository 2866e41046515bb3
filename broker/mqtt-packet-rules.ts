// The stream guard's rules for one MQTT 3.1.1 fixed header and for the CONNECT protocol, as pure functions
// of a few numbers (broker/frame-inspector.ts keeps the numbers). Spec references are to MQTT 3.1.1.
import { rejection, type GuardRejection } from './stream-guard-policy.ts'

export const CONNECT = 1
export const CONNACK = 2
export const PUBLISH = 3
export const PUBACK = 4
export const PUBCOMP = 7
export const SUBSCRIBE = 8
export const SUBACK = 9
export const UNSUBSCRIBE = 10
export const UNSUBACK = 11
export const PINGREQ = 12
export const PINGRESP = 13
export const DISCONNECT = 14

export const PACKET_NAMES: readonly string[] = [
  'reserved(0)', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'reserved(15)'
]

/** Fixed-header flags required by Table 2.2 for every type but PUBLISH [MQTT-2.2.2-1] */
const REQUIRED_FLAGS: ReadonlyMap<number, number> = new Map([
  [1, 0], [2, 0], [4, 0], [5, 0], [6, 0b0010], [7, 0], [8, 0b0010], [9, 0], [10, 0b0010],
  [11, 0], [12, 0], [13, 0], [14, 0]
])

/** Remaining Length is at most four bytes (section 2.2.3) */
export const MAX_LENGTH_BYTES = 4

export const publishQos = (flags: number): number => (flags >> 1) & 0b11

/** The first byte of a packet: type, order, direction and flags, in that order */
export function checkFixedHeader (type: number, flags: number, connectSeen: boolean): GuardRejection | undefined {
  const name = PACKET_NAMES[type]!
  // 0 and 15 are reserved in 3.1.1 (section 2.2.1; 15 is AUTH in MQTT 5 only)
  if (type === 0 || type === 15) return rejection('reserved-packet-type', `packet type ${type} is reserved`)
  // [MQTT-3.1.0-1] the first packet from the client must be CONNECT
  if (!connectSeen && type !== CONNECT) return rejection('first-packet-not-connect', `first packet is ${name}`)
  // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
  if (connectSeen && type === CONNECT) return rejection('second-connect', 'second CONNECT on one connection')
  // CONNACK, SUBACK, UNSUBACK and PINGRESP flow from server to client only (Table 2.1; sections 3.2,
  // 3.9, 3.11, 3.13): from a client they are a protocol violation, and the connection is closed [MQTT-4.8.0-1]
  if (type === CONNACK || type === SUBACK || type === UNSUBACK || type === PINGRESP) {
    return rejection('server-packet', `${name} is sent by the server only`)
  }
  if (type === PUBLISH) return checkPublishFlags(flags)
  const required = REQUIRED_FLAGS.get(type)
  // [MQTT-2.2.2-1] [MQTT-2.2.2-2] flags fixed by Table 2.2 must match, else close
  // (for SUBSCRIBE [MQTT-3.8.1-1], UNSUBSCRIBE [MQTT-3.10.1-1], PUBREL [MQTT-3.6.1-1])
  if (required !== undefined && flags !== required) {
    return rejection('bad-fixed-header-flags', `${name} flags 0b${flags.toString(2).padStart(4, '0')}`)
  }
  return undefined
}

function checkPublishFlags (flags: number): GuardRejection | undefined {
  const qos = publishQos(flags)
  const dup = (flags & 0b1000) !== 0
  // [MQTT-3.3.1-4] both QoS bits set is malformed
  if (qos === 3) return rejection('bad-publish-flags', 'PUBLISH QoS 3')
  // [MQTT-3.3.1-2] DUP must be 0 for QoS 0
  if (qos === 0 && dup) return rejection('bad-publish-flags', 'PUBLISH QoS 0 with DUP set')
  return undefined
}

/** The packets whose remaining length the spec fixes */
export function checkFixedLength (type: number, length: number): GuardRejection | undefined {
  // PUBACK, PUBREC, PUBREL, PUBCOMP: "Remaining Length ... has the value 2" (sections 3.4.1, 3.5.1,
  // 3.6.1, 3.7.1); a longer one is not MQTT 3.1.1 (MQTT 5 reason codes), a shorter one has no identifier
  if (type >= PUBACK && type <= PUBCOMP && length !== 2) {
    return rejection('malformed-length', `${PACKET_NAMES[type]!} remaining length ${length}, must be 2`)
  }
  // PINGREQ and DISCONNECT have no variable header and no payload (sections 3.12.2-3, 3.14.2-3)
  if ((type === PINGREQ || type === DISCONNECT) && length !== 0) {
    return rejection('malformed-length', `${PACKET_NAMES[type]!} remaining length ${length}, must be 0`)
  }
  return undefined
}

/** CONNECT protocol name + level we accept: 'MQTT' 4 (3.1.1) and 'MQIsdp' 3 (3.1) */
const ACCEPTED_PROTOCOLS: ReadonlyMap<string, number> = new Map([['MQTT', 4], ['MQIsdp', 3]])

/** The longest accepted protocol name: longer ones are refused without reading them */
export const MAX_PROTOCOL_NAME_BYTES = 'MQIsdp'.length

/**
 * [MQTT-3.1.2-1] protocol name, [MQTT-3.1.2-2] protocol level, checked once the CONNECT is complete, from
 * what the inspector read of its variable header: the first `peeked` bytes (at most the name length, the
 * name and the level), with the name as a big-endian number of its latin1 bytes (6 bytes fit a double).
 */
export function checkConnectProtocol (peeked: number, nameLength: number, nameBytes: number, level: number, remainingLength: number): GuardRejection | undefined {
  if (peeked < 2) return rejection('malformed-length', `CONNECT remaining length ${remainingLength} has no protocol name`)
  if (nameLength > MAX_PROTOCOL_NAME_BYTES) return rejection('unsupported-protocol', `protocol name of ${nameLength} bytes`)
  if (peeked <= 2 + nameLength) return rejection('malformed-length', `CONNECT remaining length ${remainingLength} has no protocol level`)
  let name = ''
  for (let i = nameLength - 1; i >= 0; i--) name += String.fromCharCode(Math.floor(nameBytes / 256 ** i) % 256)
  // refused with CONNACK 0x01 by the guarded stream
  if (ACCEPTED_PROTOCOLS.get(name) !== level) {
    return rejection('unsupported-protocol', `protocol ${JSON.stringify(name)} level ${level} is not MQTT 3.1.1 or 3.1`)
  }
  return undefined
}
