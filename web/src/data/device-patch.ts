import type { Device, DeviceStatus, LastNotification, Telemetry } from './types.ts'

/**
 * What the events received since the last frame do to one device (built by
 * fleet-events.ts, applied by the fleet store once per frame).
 */
export interface Patch {
  deleted?: boolean
  created?: Device
  status?: DeviceStatus
  statusAt?: string
  telemetry?: Telemetry
  /** The newest notification received since the last frame, and how many of each status arrived. */
  notification?: LastNotification
  accepted?: number
  rejected?: number
}

/**
 * The device after `patch` (a delete is the caller's), or undefined for a
 * device the store does not hold and the patch does not create (an event for a
 * device this user cannot see, or one already deleted).
 */
export function applyPatch (existing: Device | undefined, patch: Patch): Device | undefined {
  let device = existing
  if (patch.created) {
    const created: Device = patch.created
    // an existing entry keeps what the live stream already told us about it
    device = existing
      ? {
          ...created,
          status: existing.status,
          lastSeenAt: latest(existing.lastSeenAt, created.lastSeenAt),
          latestTelemetry: newestTelemetry(existing.latestTelemetry, created.latestTelemetry),
          lastNotification: existing.lastNotification ?? created.lastNotification,
          notificationCounts: existing.notificationCounts
        }
      : created
  }
  if (!device) return undefined
  if (patch.status) {
    device = { ...device, status: patch.status, lastSeenAt: latest(device.lastSeenAt, patch.statusAt ?? null) }
  }
  if (patch.telemetry && (!device.latestTelemetry || isNewer(patch.telemetry, device.latestTelemetry))) {
    device = { ...device, latestTelemetry: patch.telemetry, lastSeenAt: latest(device.lastSeenAt, patch.telemetry.ts) }
  }
  if (patch.notification && !alreadyListed(device.lastNotification, patch.notification)) {
    const counts = device.notificationCounts ?? { accepted: 0, rejected: 0 }
    device = {
      ...device,
      lastNotification: patch.notification,
      notificationCounts: { accepted: counts.accepted + (patch.accepted ?? 0), rejected: counts.rejected + (patch.rejected ?? 0) }
    }
  }
  return device
}

/** Telemetry from an event's data, with an ISO `ts`; null without a valid timestamp. */
export function toTelemetry (data: Record<string, unknown>): Telemetry | null {
  const { ts, seq } = data
  let iso: string
  if (typeof ts === 'number' && Number.isFinite(ts)) iso = new Date(ts).toISOString()
  else if (typeof ts === 'string' && !Number.isNaN(Date.parse(ts))) iso = ts
  else return null
  return { ...data, ts: iso, seq: typeof seq === 'number' ? seq : 0 } as Telemetry
}

/** Whether sample `a` is at least as new as `b` (by timestamp, then sequence number). */
export function isNewer (a: Telemetry, b: Telemetry): boolean {
  const ta = Date.parse(a.ts)
  const tb = Date.parse(b.ts)
  return ta > tb || (ta === tb && a.seq >= b.seq)
}

function newestTelemetry (a: Telemetry | null, b: Telemetry | null): Telemetry | null {
  if (!a) return b
  if (!b) return a
  return isNewer(a, b) ? a : b
}

/**
 * Whether the list loaded while these events were in flight already holds
 * them: its newest notification is the newest event, an accepted one with the
 * same seqNumber (the hub accepts a seqNumber once per eUICC). Events arrive in
 * commit order, so the earlier ones of the patch are then in its counts too.
 */
function alreadyListed (listed: LastNotification | null | undefined, event: LastNotification): boolean {
  return !!listed && event.status === 'accepted' && event.seqNumber !== null &&
    listed.status === 'accepted' && listed.seqNumber === event.seqNumber && listed.operation === event.operation
}

function latest (a: string | null, b: string | null): string | null {
  if (!a) return b
  if (!b) return a
  return Date.parse(b) > Date.parse(a) ? b : a
}
