// What the embedded broker (broker/hub-broker.ts) asks of the rest of the hub, and the limits it is built
// with. Re-exported by hub-broker.ts, which is where the hub imports them from.
import { defaultStreamGuardLimits, type GuardRejection, type StreamGuardLimits } from './stream-guard.ts'
import type { PublishPacket } from 'aedes'
import type { DeviceTopic } from '../protocol/topics.ts'

export interface AuthenticatedDevice { id: string, tenantId: string }

/** A site gateway (a field site's Mosquitto bridged to the hub): it acts for its site's devices. */
export interface AuthenticatedGateway { id: string, tenantId: string, site: string }

export type GatewayCertificateVerdict =
  | { ok: true, gateway: AuthenticatedGateway }
  | { ok: false, reason: 'certificate-unknown' | 'certificate-revoked' | 'certificate-expired' | 'gateway-disabled', tenantId: string | null }

/** What the broker asks of the rest of the hub. `publish` resolves once the message is durably handled
 * (committed); only then is the PUBACK sent. */
export interface BrokerBackend {
  authenticate (deviceId: string, secret: string): Promise<AuthenticatedDevice | null>
  /** A device by the client certificate it presented on TLS (already verified by TLS, CN = deviceId):
   * null when the certificate is not this device's, is revoked, or the device is disabled or gone. */
  authenticateCertificate (deviceId: string, serial: string): Promise<AuthenticatedDevice | null>
  /** A site gateway by the client certificate it presented on TLS (CN = gatewayId, already verified by
   * TLS or, out of its validity, by the gate): the gateway, or why not, with the gateway's tenant where
   * the certificate is one the hub issued (for the audit). */
  authenticateGatewayCertificate (gatewayId: string, serial: string): Promise<GatewayCertificateVerdict>
  /** A site gateway's credentials (tried when no device has them). */
  authenticateGateway (gatewayId: string, secret: string): Promise<AuthenticatedGateway | null>
  /** The enabled devices of a tenant's site: whom its gateways may act for. */
  siteDevices (tenantId: string, site: string): Promise<string[]>
  publish (device: AuthenticatedDevice, topic: DeviceTopic, packet: PublishPacket): Promise<void>
  connected (device: AuthenticatedDevice): void
  /** `moved`: the session was taken over on another hub process (the device is still online there). */
  disconnected (device: AuthenticatedDevice, connection: object, moved?: boolean): void
  /** The device can receive its commands on `connection` (it holds a `commands/…` subscription): called
   * when it subscribes to them and when a persistent session resumes with one. */
  commandsReady (device: AuthenticatedDevice, connection: object): void
  /** The device can no longer receive commands on `connection` (its gateway went) without having been
   * shown online through it. */
  commandsGone (device: AuthenticatedDevice, connection: object): void
  seen (device: AuthenticatedDevice): void
  /** A refused action; `reason` is a short code (the kind of refusal), `detail` says what was asked. */
  denied (device: AuthenticatedDevice | null, action: 'publish' | 'subscribe' | 'connect', reason: string, detail: string): void
  guardRejected (rejection: ConnectionRejection): void
}

/** Why a connection was closed before MQTT: the stream guard's reasons, or the per-address rate. */
export type ConnectionRejection = GuardRejection | { code: 'connect-rate', detail: string }

export interface BrokerLimits extends StreamGuardLimits {
  /** Sustained publishes per second per device; above it publishes wait (backpressure), far above it the
   * device is disconnected. */
  publishRatePerDevice: number
  publishBurst: number
  /** New connections per second per source address (0: no limit). */
  connectRatePerIp: number
  maxSubscriptionsPerDevice: number
  maxInflightInbound: number
  drainTimeoutMs: number
}

export const defaultBrokerLimits: BrokerLimits = {
  ...defaultStreamGuardLimits,
  publishRatePerDevice: 50,
  publishBurst: 200,
  connectRatePerIp: 50,
  maxSubscriptionsPerDevice: 32,
  maxInflightInbound: 100,
  drainTimeoutMs: 30_000
}
