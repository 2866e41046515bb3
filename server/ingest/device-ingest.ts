import type { PublishPacket } from 'aedes'
import type { AuthenticatedDevice, BrokerBackend } from '../../broker/hub-broker.ts'
import { parseTelemetry } from '../../protocol/telemetry.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { NewQuarantineRow } from '../db/schema/index.ts'
import type { HubMetrics } from '../metrics.ts'
import { rowToItem, sampleToRow } from '../repositories/telemetry-repository.ts'
import type { IngestBatcher } from './ingest-batcher.ts'

/** Quarantined payloads keep at most this much of the original bytes. */
const MAX_QUARANTINED_BYTES = 64 * 1024

/** What happens to each device publish, before its PUBACK: telemetry is validated and committed; what
 * cannot be used is quarantined with the reason and still acknowledged (a resend would fail the same way);
 * the topics of later issues (notifications, inventory, command results) are kept in quarantine as
 * `unsupported-topic` until their pipelines exist, so nothing a device sent is lost. */
export class DeviceIngest {
  constructor (
    private readonly batcher: IngestBatcher,
    private readonly bus: EventBus,
    private readonly metrics: HubMetrics
  ) {}

  handle: BrokerBackend['publish'] = async (device, topic, packet) => {
    this.metrics.messagesIn.inc({ kind: topic.kind })
    switch (topic.kind) {
      case 'telemetry':
        return await this.telemetry(device, packet)
      case 'status':
        return
      default:
        return await this.quarantine(device, packet, 'unsupported-topic', `no pipeline for ${topic.kind} yet`)
    }
  }

  private async telemetry (device: AuthenticatedDevice, packet: PublishPacket): Promise<void> {
    const payload = packet.payload as Buffer
    const parsed = parseTelemetry(payload)
    if (!parsed.ok) {
      return await this.quarantine(device, packet, parsed.reason, parsed.detail)
    }
    const rows = parsed.samples.map((sample) => sampleToRow(device.id, sample))
    await this.batcher.write({ telemetry: rows, quarantine: [] })
    this.metrics.samplesStored.inc(rows.length)
    for (const row of rows) {
      this.bus.publish({ type: 'telemetry', tenantId: device.tenantId, data: { deviceId: device.id, ...rowToItem(row) } })
    }
  }

  private async quarantine (device: AuthenticatedDevice, packet: PublishPacket, reason: string, detail: string): Promise<void> {
    const payload = Buffer.from(packet.payload as Buffer).subarray(0, MAX_QUARANTINED_BYTES)
    const row: NewQuarantineRow = { deviceId: device.id, topic: packet.topic, payload, reason, detail: detail.slice(0, 1000) }
    await this.batcher.write({ telemetry: [], quarantine: [row] })
    this.metrics.quarantined.inc({ reason })
  }
}
