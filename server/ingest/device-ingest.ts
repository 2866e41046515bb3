import type { PublishPacket } from 'aedes'
import type { AuthenticatedDevice, BrokerBackend } from '../../broker/hub-broker.ts'
import { parseInventoryReport, parseNotificationMessage, type NotificationAck } from '../../protocol/notifications.ts'
import { parseTelemetry } from '../../protocol/telemetry.ts'
import { MAX_PAYLOAD_BYTES, topics } from '../../protocol/topics.ts'
import type { EventBus } from '../bus/event-bus.ts'
import type { NewQuarantineRow } from '../db/schema/index.ts'
import type { HubMetrics } from '../metrics.ts'
import type { ProfileInventory } from '../inventory/profile-inventory.ts'
import { profileEventData } from '../inventory/profile-row.ts'
import type { NotificationPipeline } from '../notifications/notification-pipeline.ts'
import { rowToItem, sampleToRow } from '../repositories/telemetry-repository.ts'
import type { IngestBatcher } from './ingest-batcher.ts'

/** Quarantined payloads keep at most this much of the original bytes. */
const MAX_QUARANTINED_BYTES = 64 * 1024

export interface DeviceIngestDeps {
  batcher: IngestBatcher
  bus: EventBus
  metrics: HubMetrics
  notifications: NotificationPipeline
  /** Inventory reports are reconciled by the profile inventory (which refuses one naming an EID that is
   * not the device's). */
  inventory: ProfileInventory
  /** Publishes to a device (QoS 1) and resolves once the broker has taken the message. */
  sendToDevice (topic: string, payload: string): Promise<void>
  /** Command results (`commands/{commandId}/result`): verified and recorded before the PUBACK; one the
   * hub cannot use ends its command `failed` (`invalid-result`) and is returned for quarantine. */
  commands: { handleResult (device: AuthenticatedDevice, commandId: string, payload: Uint8Array | null): Promise<{ ok: true } | { ok: false, reason: string, detail: string }> }
}

/** What happens to each device publish, before its PUBACK: telemetry is validated and committed;
 * notifications go through the notification pipeline and are answered on `notifications/ack`; inventory
 * reports are reconciled with the profile inventory. What cannot be used is quarantined with the reason
 * and still acknowledged (a resend would fail the same way); command results go to the command service
 * (server/commands/), which records them before the PUBACK. */
export class DeviceIngest {
  constructor (private readonly deps: DeviceIngestDeps) {}

  handle: BrokerBackend['publish'] = async (device, topic, packet) => {
    this.deps.metrics.messagesIn.inc({ kind: topic.kind })
    const size = (packet.payload as Buffer).byteLength
    const limit = MAX_PAYLOAD_BYTES[topic.kind]
    if (size > limit) {
      // Over the topic's limit but under the frame cap: acknowledged and quarantined by size, so the
      // device does not resend it forever; its bytes are not kept.
      if (topic.kind === 'command-result') await this.deps.commands.handleResult(device, topic.commandId as string, null)
      return await this.quarantine(device, packet, 'payload-too-large', `${size} bytes > ${limit} for ${topic.kind}`, false)
    }
    switch (topic.kind) {
      case 'telemetry':
        return await this.telemetry(device, packet)
      case 'notifications':
        return await this.notification(device, packet)
      case 'inventory':
        return await this.inventory(device, packet)
      case 'status':
        return
      case 'command-result': {
        const outcome = await this.deps.commands.handleResult(device, topic.commandId as string, packet.payload as Buffer)
        if (!outcome.ok) await this.quarantine(device, packet, outcome.reason, outcome.detail)
      }
    }
  }

  private async telemetry (device: AuthenticatedDevice, packet: PublishPacket): Promise<void> {
    const parsed = parseTelemetry(packet.payload as Buffer)
    if (!parsed.ok) return await this.quarantine(device, packet, parsed.reason, parsed.detail)
    const rows = parsed.samples.map((sample) => sampleToRow(device.id, sample))
    await this.deps.batcher.write({ telemetry: rows, quarantine: [] })
    this.deps.metrics.samplesStored.inc(rows.length)
    for (const row of rows) {
      this.deps.bus.publish({ type: 'telemetry', tenantId: device.tenantId, data: { deviceId: device.id, ...rowToItem(row) } })
    }
  }

  private async notification (device: AuthenticatedDevice, packet: PublishPacket): Promise<void> {
    const parsed = parseNotificationMessage(packet.payload as Buffer)
    if (!parsed.ok) return await this.quarantine(device, packet, parsed.reason, parsed.detail)
    const der = Buffer.from(parsed.value.pendingNotification, 'base64')
    const outcome = await this.deps.notifications.submit(der, 'mqtt', device)
    const ack: NotificationAck = { seqNumber: outcome.seqNumber ?? parsed.value.seqNumber ?? null, status: outcome.status }
    if (outcome.reason !== undefined) ack.reason = outcome.reason
    await this.deps.sendToDevice(topics.notificationAck(device.id), JSON.stringify(ack))
  }

  private async inventory (device: AuthenticatedDevice, packet: PublishPacket): Promise<void> {
    const parsed = parseInventoryReport(packet.payload as Buffer)
    if (!parsed.ok) return await this.quarantine(device, packet, parsed.reason, parsed.detail)
    const outcome = await this.deps.inventory.applyReport(device, parsed.value.eid, parsed.value.profiles)
    // Not the device's EID (not its registered one, or, without one, the EID another device
    // holds): kept with the reason, acknowledged, nothing changed.
    if (!outcome.ok) return await this.quarantine(device, packet, outcome.reason, outcome.detail)
    for (const row of outcome.changed) this.deps.bus.publish({ type: 'profile.changed', tenantId: device.tenantId, data: profileEventData(row) })
  }

  private async quarantine (device: AuthenticatedDevice, packet: PublishPacket, reason: string, detail: string, keepPayload = true): Promise<void> {
    const received = packet.payload as Buffer
    const payload = keepPayload ? Buffer.from(received).subarray(0, MAX_QUARANTINED_BYTES) : null
    const row: NewQuarantineRow = { deviceId: device.id, topic: packet.topic, payload, sizeBytes: received.byteLength, reason, detail: detail.slice(0, 1000) }
    await this.deps.batcher.write({ telemetry: [], quarantine: [row] })
    this.deps.metrics.quarantined.inc({ reason })
  }
}
