/** The MQTT topics of the device contract (DESIGN.md "MQTT contract"): one definition for broker, server,
 * simulator and tests. */

/** Client ids, and so device ids: `[A-Za-z0-9_.:-]{1,64}` (RELIABILITY.md "Broker limits"). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/
export const MAX_TOPIC_BYTES = 256
export const MAX_TOPIC_LEVELS = 8

export type DeviceTopicKind = 'telemetry' | 'notifications' | 'inventory' | 'status' | 'command-result'

/** Each device→hub topic's payload limit in bytes. A payload over it (but under the frame cap,
 * HUB_MQTT_MAX_FRAME_BYTES) is acknowledged and quarantined by size, without its bytes. */
export const MAX_PAYLOAD_BYTES: Readonly<Record<DeviceTopicKind, number>> = {
  telemetry: 64 * 1024,
  notifications: 256 * 1024,
  inventory: 64 * 1024,
  'command-result': 128 * 1024,
  status: 4 * 1024
}

export interface DeviceTopic {
  deviceId: string
  kind: DeviceTopicKind
  commandId?: string
}

export const topics = {
  telemetry: (deviceId: string) => `devices/${deviceId}/telemetry`,
  notifications: (deviceId: string) => `devices/${deviceId}/notifications`,
  notificationAck: (deviceId: string) => `devices/${deviceId}/notifications/ack`,
  inventory: (deviceId: string) => `devices/${deviceId}/inventory`,
  status: (deviceId: string) => `devices/${deviceId}/status`,
  command: (deviceId: string, commandId: string) => `devices/${deviceId}/commands/${commandId}`,
  commandResult: (deviceId: string, commandId: string) => `devices/${deviceId}/commands/${commandId}/result`
}

const COMMAND_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** Parses a topic a device may publish to; anything outside the contract returns null. */
export function parseDevicePublishTopic (topic: string): DeviceTopic | null {
  const levels = topic.split('/')
  if (levels[0] !== 'devices' || levels.length < 3 || !DEVICE_ID_PATTERN.test(levels[1])) return null
  const deviceId = levels[1]
  if (levels.length === 3) {
    switch (levels[2]) {
      case 'telemetry':
      case 'notifications':
      case 'inventory':
      case 'status':
        return { deviceId, kind: levels[2] }
      default:
        return null
    }
  }
  if (levels.length === 5 && levels[2] === 'commands' && COMMAND_ID_PATTERN.test(levels[3]) && levels[4] === 'result') {
    return { deviceId, kind: 'command-result', commandId: levels[3] }
  }
  return null
}

/** The only subscriptions a device may hold: its own commands and notification acknowledgements. */
export function isAllowedDeviceSubscription (deviceId: string, filter: string): boolean {
  return filter === `devices/${deviceId}/commands/#` ||
    filter === `devices/${deviceId}/commands/+` ||
    filter === `devices/${deviceId}/notifications/ack`
}
