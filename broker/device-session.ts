// The broker's state for one authenticated MQTT session (created at CONNECT by broker/hub-broker.ts), and
// the topics that carry the commands the hub alone delivers.
import type { AuthenticatedDevice } from './broker-contract.ts'
import type { GatewaySession } from './gateway-session.ts'
import type { TokenBucket } from './publish-rate.ts'

export interface Session {
  /** The authenticated client: a device, or for a site gateway the gateway itself (its id and tenant). */
  device: AuthenticatedDevice
  /** Set for a site gateway's session: whom it acts for, and their per-device state. */
  gateway?: GatewaySession
  bucket: TokenBucket | null
  /** The filters the device holds: the subscription limit counts these, not every SUBSCRIBE it sent. */
  held: Set<string>
  /** QoS 2 message ids handled and waiting for their PUBREL: a resend before it is not handled again. */
  qos2: Set<number>
  /** Set by the first refused publish: the connection is closing, and the rest of what it already sent
   * is dropped without another audit entry each (a flood would otherwise become an audit flood). */
  refused: boolean
}

/** `devices/{id}/commands/{commandId}`: what the hub alone delivers. */
export const isCommandTopic = (topic: string): boolean => /^devices\/[^/]+\/commands\/[^/]+$/.test(topic)
export const isCommandFilter = (filter: string): boolean => filter.endsWith('/commands/#') || filter.endsWith('/commands/+')
export const holdsCommands = (session: Session): boolean => [...session.held].some(isCommandFilter)
