import { isNewer, toTelemetry, type Patch } from './device-patch.ts'
import type { HubEvent, HubEventMap } from './types.ts'

/**
 * Folds one event of the stream into the pending patches, one per device, so
 * a burst of events for a device costs one update. Returns 'resync' when the
 * whole list must be reloaded, true when a patch changed, false when the
 * event is not for the fleet list (or not readable).
 */
export function collectEvent (pending: Map<string, Patch>, event: HubEvent): 'resync' | boolean {
  switch (event.type) {
    case 'resync':
      return 'resync'
    case 'device.online':
    case 'device.offline': {
      const { deviceId, at } = event.data
      if (typeof deviceId !== 'string') return false
      const patch = patchOf(pending, deviceId)
      patch.status = event.type === 'device.online' ? 'online' : 'offline'
      patch.statusAt = at
      return true
    }
    case 'telemetry': {
      const items = (Array.isArray(event.data) ? event.data : [event.data]) as Array<HubEventMap['telemetry']>
      for (const { deviceId, ...rest } of items) {
        if (typeof deviceId !== 'string') continue
        const telemetry = toTelemetry(rest)
        if (!telemetry) continue
        const patch = patchOf(pending, deviceId)
        if (!patch.telemetry || isNewer(telemetry, patch.telemetry)) patch.telemetry = telemetry
      }
      return true
    }
    case 'notification': {
      const { deviceId, seqNumber, operation, status, reason } = event.data
      // a duplicate was already counted when it was first accepted
      if (typeof deviceId !== 'string' || (status !== 'accepted' && status !== 'rejected')) return false
      const patch = patchOf(pending, deviceId)
      patch.notification = {
        seqNumber: typeof seqNumber === 'number' ? seqNumber : null,
        operation: typeof operation === 'string' ? operation : null,
        status,
        reason: typeof reason === 'string' ? reason : null,
        receivedAt: new Date().toISOString()
      }
      patch[status] = (patch[status] ?? 0) + 1
      return true
    }
    case 'device.created': {
      const device = event.data.device
      if (!device || typeof device.id !== 'string') return false
      const patch = patchOf(pending, device.id)
      patch.deleted = false
      patch.created = device
      return true
    }
    case 'device.deleted': {
      if (typeof event.data.deviceId !== 'string') return false
      pending.set(event.data.deviceId, { deleted: true })
      return true
    }
    default:
      return false
  }
}

function patchOf (pending: Map<string, Patch>, deviceId: string): Patch {
  let patch = pending.get(deviceId)
  if (!patch) {
    patch = {}
    pending.set(deviceId, patch)
  }
  return patch
}
