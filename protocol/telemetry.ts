import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { parseDeviceJson, type DeviceJsonResult } from './device-json.ts'
import { MAX_PAYLOAD_BYTES } from './topics.ts'

/** Earliest accepted sample time (2015-01-01) and how far in the future a device clock may run. */
const MIN_TS = Date.UTC(2015, 0, 1)
export const MAX_CLOCK_SKEW_MS = 24 * 3600_000
export const MAX_SAMPLES_PER_MESSAGE = 1000
export const MAX_TELEMETRY_PAYLOAD_BYTES = MAX_PAYLOAD_BYTES.telemetry

const int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum })
const num = (minimum: number, maximum: number) => Type.Number({ minimum, maximum })
const digits = (pattern: string) => Type.String({ pattern })

/** One telemetry sample as a device sends it (DESIGN.md, topic `telemetry`). Unknown fields are ignored. */
export const TelemetrySample = Type.Object({
  ts: int(MIN_TS, 8.64e15),
  seq: int(0, Number.MAX_SAFE_INTEGER),
  rsrp: Type.Optional(num(-160, -30)),
  rsrq: Type.Optional(num(-45, 20)),
  sinr: Type.Optional(num(-30, 50)),
  rssi: Type.Optional(num(-130, 0)),
  rat: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9 .+-]{1,16}$' })),
  mcc: Type.Optional(digits('^[0-9]{3}$')),
  mnc: Type.Optional(digits('^[0-9]{2,3}$')),
  cellId: Type.Optional(int(0, 2 ** 40)),
  tac: Type.Optional(int(0, 16777215)),
  band: Type.Optional(int(1, 1024)),
  bytesUp: Type.Optional(int(0, Number.MAX_SAFE_INTEGER)),
  bytesDown: Type.Optional(int(0, Number.MAX_SAFE_INTEGER)),
  battery: Type.Optional(num(0, 100)),
  temperature: Type.Optional(num(-60, 150)),
  uptime: Type.Optional(int(0, Number.MAX_SAFE_INTEGER)),
  lat: Type.Optional(num(-90, 90)),
  lon: Type.Optional(num(-180, 180))
})
export type TelemetrySample = Static<typeof TelemetrySample>
export const METRIC_KEYS = Object.keys(TelemetrySample.properties).filter((k) => k !== 'ts' && k !== 'seq') as Array<Exclude<keyof TelemetrySample, 'ts' | 'seq'>>

const checkSample = TypeCompiler.Compile(TelemetrySample)

export type TelemetryParseResult =
  | { ok: true, samples: TelemetrySample[] }
  | { ok: false, reason: (DeviceJsonResult & { ok: false })['reason'] | 'payload-too-large' | 'invalid-sample' | 'too-many-samples', detail: string }

/** Parses a telemetry payload (an object or an array of objects) and validates every sample. */
export function parseTelemetry (payload: Uint8Array, now = Date.now()): TelemetryParseResult {
  if (payload.byteLength > MAX_TELEMETRY_PAYLOAD_BYTES) {
    return { ok: false, reason: 'payload-too-large', detail: `${payload.byteLength} bytes > ${MAX_TELEMETRY_PAYLOAD_BYTES}` }
  }
  const parsed = parseDeviceJson(payload)
  if (!parsed.ok) return parsed
  const json = parsed.value
  const items = Array.isArray(json) ? json : [json]
  if (items.length === 0) return { ok: false, reason: 'invalid-sample', detail: 'empty array' }
  if (items.length > MAX_SAMPLES_PER_MESSAGE) return { ok: false, reason: 'too-many-samples', detail: `${items.length} samples > ${MAX_SAMPLES_PER_MESSAGE}` }
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (!checkSample.Check(item)) {
      const first = checkSample.Errors(item).First()
      const where = first === undefined ? '' : `${first.path || '/'}: ${first.message}`
      return { ok: false, reason: 'invalid-sample', detail: `sample ${i}: ${where}` }
    }
    if (item.ts > now + MAX_CLOCK_SKEW_MS) {
      return { ok: false, reason: 'invalid-sample', detail: `sample ${i}: /ts is more than 24 h in the future` }
    }
  }
  return { ok: true, samples: items as TelemetrySample[] }
}
