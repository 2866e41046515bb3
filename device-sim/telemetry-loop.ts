// One simulated device's telemetry: a sample from its radio model every period, kept in a bounded buffer
// while offline (the oldest dropped past the limit), sent in batches of up to `maxBatch` samples with at
// most 8 messages in flight; at QoS 1 an unacknowledged batch goes back to the buffer for the next
// connection (the hub deduplicates a resend).
import type { TelemetrySample } from '../protocol/telemetry.ts'
import { MAX_SAMPLES_PER_MESSAGE } from '../protocol/telemetry.ts'
import { topics } from '../protocol/topics.ts'
import type { DeviceConnection } from './device-connection.ts'
import type { RadioModel } from './radio-model.ts'
import type { SimStats } from './sim-stats.ts'

export interface TelemetryLoopOptions {
  id: string
  qos: 0 | 1
  /** Samples kept while offline. */
  bufferLimit: number
  /** Samples per message when catching up (default 100). */
  maxBatch?: number
  stats: SimStats
}

const MAX_TELEMETRY_INFLIGHT = 8

export class TelemetryLoop {
  private seq = 0
  private buffer: TelemetrySample[] = []
  private inflight = 0

  constructor (private readonly o: TelemetryLoopOptions, private readonly radio: RadioModel, private readonly connection: DeviceConnection) {}

  /** Takes one sample now and sends what the buffer holds. */
  sample (): void {
    this.buffer.push(this.radio.sample(Date.now(), this.seq++))
    const excess = this.buffer.length - this.o.bufferLimit
    if (excess > 0) {
      this.buffer.splice(0, excess)
      this.o.stats.count('samplesDropped', excess)
    }
    this.flush()
  }

  /** Sends buffered samples while online and under the in-flight limit. */
  flush (): void {
    const maxBatch = Math.min(this.o.maxBatch ?? 100, MAX_SAMPLES_PER_MESSAGE)
    while (this.connection.online && this.buffer.length > 0 && this.inflight < MAX_TELEMETRY_INFLIGHT) {
      const batch = this.buffer.splice(0, maxBatch)
      this.inflight++
      this.o.stats.count('telemetryMessages')
      this.connection.publish(topics.telemetry(this.o.id), JSON.stringify(batch.length === 1 ? batch[0] : batch), this.o.qos, (err) => {
        this.inflight--
        if (err === undefined) {
          this.o.stats.count('samplesSent', batch.length)
        } else if (this.o.qos === 1) {
          // Not acknowledged: keep for the next connection (the hub deduplicates a resend).
          this.buffer.unshift(...batch)
        } else {
          this.o.stats.count('samplesDropped', batch.length)
        }
        if (err === undefined) this.flush()
      })
    }
  }
}
