import type { AuthenticatedDevice, AuthenticatedGateway } from './broker-contract.ts'
import { TokenBucket } from './publish-rate.ts'

/** How long a gateway's list of its site's devices is trusted before it is read again. A device that
 * joins the site is found at once (an unknown device id triggers a read); one that leaves it stops being
 * served within this time. */
const SITE_REFRESH_MS = 5_000

/**
 * The state of one site gateway's MQTT session (a field site's Mosquitto bridged to the hub): whom it
 * may act for (the enabled devices of its tenant at its site), and per device what a directly connected
 * device has per session: its publish bucket and whether it is online through this bridge. Every
 * per-device rule of the broker applies per device, not per gateway.
 */
export class GatewaySession {
  private devices = new Set<string>()
  private readAt = 0
  private reading: Promise<void> | null = null
  private readonly buckets = new Map<string, TokenBucket | null>()
  /** Devices shown online because their messages came through this gateway. */
  readonly online = new Set<string>()
  /** Devices told ready for commands through this gateway (it holds a `devices/+/commands/…` filter). */
  readonly ready = new Set<string>()

  constructor (
    readonly gateway: AuthenticatedGateway,
    private readonly siteDevices: (tenantId: string, site: string) => Promise<string[]>,
    private readonly rate: { perSecond: number, burst: number }
  ) {}

  /** Reads the site's devices (at connect, and when stale or asked about an unknown id). */
  async refresh (): Promise<void> {
    this.reading ??= this.siteDevices(this.gateway.tenantId, this.gateway.site).then((ids) => {
      this.devices = new Set(ids)
      this.readAt = Date.now()
      for (const id of this.online) if (!this.devices.has(id)) this.online.delete(id)
    }).finally(() => { this.reading = null })
    await this.reading
  }

  /** Whether the gateway may act for `deviceId` now. */
  async mayActFor (deviceId: string): Promise<boolean> {
    if (!this.devices.has(deviceId) || Date.now() - this.readAt > SITE_REFRESH_MS) await this.refresh()
    return this.devices.has(deviceId)
  }

  /** Whether the gateway may act for `deviceId`, from what is known now (delivery cannot wait). */
  knows (deviceId: string): boolean {
    return this.devices.has(deviceId)
  }

  get siteDeviceIds (): string[] { return [...this.devices] }

  device (deviceId: string): AuthenticatedDevice {
    return { id: deviceId, tenantId: this.gateway.tenantId }
  }

  bucket (deviceId: string): TokenBucket | null {
    let bucket = this.buckets.get(deviceId)
    if (bucket === undefined) {
      bucket = this.rate.perSecond > 0 ? new TokenBucket(this.rate.perSecond, this.rate.burst) : null
      this.buckets.set(deviceId, bucket)
    }
    return bucket
  }
}
