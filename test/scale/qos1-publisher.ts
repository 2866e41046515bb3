// A device under QoS 1 load for the fault tests: publishes numbered telemetry one message at a time,
// keeps what was acknowledged, and when its connection fails connects to the next hub of its list and
// sends the unacknowledged message again (the same bytes: a resend), as a device behind a load balancer
// does. What the hub stored is then checked against `acked`.
import mqtt, { type MqttClient } from 'mqtt'
import type { DeviceCredentials } from '../helpers/test-hub.ts'

/** How long one publish may wait for its PUBACK before the device gives up on the connection. */
const PUBACK_TIMEOUT_MS = 15_000
/** A failed connect is tried again (on the next hub) after this pause: a device's back-off. */
const RECONNECT_PAUSE_MS = 250

export class Qos1Publisher {
  readonly acked = new Set<number>()
  /** Connections made (the first one included). */
  connections = 0
  private stopped = false
  private running: Promise<void> | null = null
  private client: MqttClient | null = null
  private next = 0
  /** Telemetry timestamps: one per sequence number, in the past, fixed so a resend is the same message. */
  private readonly base = Date.now() - 3_600_000

  constructor (readonly deviceId: string, private readonly credentials: DeviceCredentials, private readonly urls: string[]) {}

  start (): void {
    this.running = this.run()
  }

  /** Stops after the message in flight (acknowledged or not) and closes the connection. */
  async stop (): Promise<void> {
    this.stopped = true
    await this.running
    await this.client?.endAsync(true)
    this.client = null
  }

  private async run (): Promise<void> {
    let pending: number | null = null
    while (!this.stopped) {
      if (this.client === null) {
        const url = this.urls[this.next % this.urls.length]
        try {
          this.client = await mqtt.connectAsync(url, { ...this.credentials, reconnectPeriod: 0, connectTimeout: 10_000 })
          this.connections++
        } catch {
          this.next++
          await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS))
          continue
        }
      }
      const seq: number = pending ?? this.acked.size + 1
      pending = seq
      try {
        await this.publish(this.client, seq)
        this.acked.add(seq)
        pending = null
      } catch {
        this.client.end(true)
        this.client = null
        this.next++
      }
    }
  }

  private async publish (client: MqttClient, seq: number): Promise<void> {
    const payload = JSON.stringify({ ts: this.base + seq * 1000, seq, rsrp: -90 })
    await new Promise<void>((resolve, reject) => {
      const fail = (): void => { clearTimeout(timer); reject(new Error('connection lost')) }
      const timer = setTimeout(fail, PUBACK_TIMEOUT_MS)
      client.once('close', fail)
      client.publish(`devices/${this.deviceId}/telemetry`, payload, { qos: 1 }, (err) => {
        clearTimeout(timer)
        client.off('close', fail)
        if (err === undefined || err === null) resolve()
        else reject(err)
      })
    })
  }

  /** The telemetry timestamps' range, for reading back what was stored. */
  get range (): { from: string, to: string } {
    return { from: new Date(this.base).toISOString(), to: new Date(this.base + (this.acked.size + 10) * 1000).toISOString() }
  }
}

/** Every stored sequence number of the device, with repeats (read through one hub's API). */
export async function storedSeqs (api: (token: string, method: string, path: string) => Promise<{ status: number, body: any }>, token: string, publisher: Qos1Publisher): Promise<number[]> {
  const { from, to } = publisher.range
  const res = await api(token, 'GET', `/api/devices/${publisher.deviceId}/telemetry?from=${from}&to=${to}&limit=10000`)
  if (res.status !== 200) throw new Error('telemetry read failed: ' + JSON.stringify(res.body))
  return (res.body.items as Array<{ seq: number }>).map((item) => item.seq).sort((x, y) => x - y)
}
