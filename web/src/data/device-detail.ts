import type { ApiClient } from './api-client.ts'
import type { Command, CommandOp, DeviceCredentials, DeviceNotification, Page, Profile, TelemetryBucket, Usage } from './console-types.ts'

/** The device page's requests (profiles, notifications, commands, telemetry buckets, operations). */
export class DeviceDetailApi {
  readonly #api: ApiClient
  readonly #base: string

  constructor (api: ApiClient, deviceId: string) {
    this.#api = api
    this.#base = `/api/devices/${encodeURIComponent(deviceId)}`
  }

  profiles (): Promise<{ eid: string | null, items: Profile[] }> {
    return this.#api.request('GET', `${this.#base}/profiles`)
  }

  notifications (limit = 50): Promise<Page<DeviceNotification>> {
    return this.#api.request('GET', `${this.#base}/notifications`, { query: { limit } })
  }

  commands (limit = 25): Promise<Page<Command>> {
    return this.#api.request('GET', `${this.#base}/commands`, { query: { limit } })
  }

  /** Per-bucket min/avg/max of each metric between `from` and `to`. */
  telemetry (from: Date, to: Date, bucket: string, signal?: AbortSignal): Promise<{ items: TelemetryBucket[] }> {
    return this.#api.request('GET', `${this.#base}/telemetry`, { query: { from: from.toISOString(), to: to.toISOString(), bucket, limit: 10_000 }, signal })
  }

  /** Data used per UTC day (the last 30) or month (the last 12), and the device's plan. */
  usage (period: 'day' | 'month'): Promise<Usage> {
    return this.#api.request('GET', `${this.#base}/usage`, { query: { period } })
  }

  run (op: CommandOp, fields: { iccid?: string, activationCode?: string } = {}): Promise<Command> {
    return this.#api.request('POST', `${this.#base}/commands`, { body: { op, ...fields } })
  }

  rotateCredentials (): Promise<DeviceCredentials> {
    return this.#api.request('POST', `${this.#base}/credentials/rotate`)
  }
}

/**
 * The QR image of an activation code (GET /api/activation-codes/qr, SVG), as a data: URL: the API
 * wants the bearer token, which an <img src> cannot send, and the page's CSP allows data: images.
 */
export async function activationCodeQr (api: ApiClient, code: string, signal?: AbortSignal): Promise<string> {
  const svg = await api.requestText('GET', '/api/activation-codes/qr', { query: { code, format: 'svg' }, signal })
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`
}
