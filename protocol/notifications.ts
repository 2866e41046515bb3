import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { parseDeviceJson, type DeviceJsonResult } from './device-json.ts'

/** `devices/{id}/notifications` payload: `{"pendingNotification": "<base64 DER>"}`, or a line of
 * `lpac notification dump` (which carries the same field plus type, eid, seqNumber and address). */
export const NotificationMessage = Type.Object({
  pendingNotification: Type.String({ minLength: 4, maxLength: 90_000, pattern: '^[A-Za-z0-9+/_-]+={0,2}$' }),
  type: Type.Optional(Type.String()),
  eid: Type.Optional(Type.String()),
  seqNumber: Type.Optional(Type.Number()),
  notificationAddress: Type.Optional(Type.String())
})
export type NotificationMessage = Static<typeof NotificationMessage>

/** `devices/{id}/notifications/ack` payload, sent after the notification is committed. */
export interface NotificationAck {
  seqNumber: number | null
  status: 'accepted' | 'duplicate' | 'rejected'
  reason?: string
}

/** `devices/{id}/inventory` payload. */
export const InventoryReport = Type.Object({
  eid: Type.String({ pattern: '^[0-9]{32}$' }),
  profiles: Type.Array(Type.Object({
    iccid: Type.String({ pattern: '^89[0-9]{16,18}[0-9F]?$' }),
    state: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
    name: Type.Optional(Type.String({ maxLength: 64 })),
    spn: Type.Optional(Type.String({ maxLength: 64 }))
  }), { maxItems: 64 })
})
export type InventoryReport = Static<typeof InventoryReport>

const checkMessage = TypeCompiler.Compile(NotificationMessage)
const checkInventory = TypeCompiler.Compile(InventoryReport)

export type Parsed<T> = { ok: true, value: T } | { ok: false, reason: (DeviceJsonResult & { ok: false })['reason'] | 'invalid-message', detail: string }

function parseJson<T> (payload: Uint8Array, check: { Check(v: unknown): boolean, Errors(v: unknown): { First(): { path: string, message: string } | undefined } }): Parsed<T> {
  const json = parseDeviceJson(payload)
  if (!json.ok) return json
  const value = json.value
  if (!check.Check(value)) {
    const first = check.Errors(value).First()
    return { ok: false, reason: 'invalid-message', detail: first === undefined ? 'invalid' : `${first.path || '/'}: ${first.message}` }
  }
  return { ok: true, value: value as T }
}

export const parseNotificationMessage = (payload: Uint8Array): Parsed<NotificationMessage> => parseJson(payload, checkMessage)
export const parseInventoryReport = (payload: Uint8Array): Parsed<InventoryReport> => parseJson(payload, checkInventory)
