import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/** Earliest accepted sample time (2015-01-01) and how far in the future a device clock may run. */
const MIN_TS = Date.UTC(2015, 0, 1)
export const MAX_CLOCK_SKEW_MS = 24 * 3600_000
export const MAX_SAMPLES_PER_MESSAGE = 1000
export const MAX_TELEMETRY_PAYLOAD_BYTES = 64 * 1024

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
  | { ok: false, reason: 'payload-too-large' | 'invalid-utf8' | 'nul-byte' | 'invalid-json' | 'invalid-sample' | 'too-many-samples', detail: string }

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Parses a telemetry payload (an object or an array of objects) and validates every sample. */
export function parseTelemetry (payload: Uint8Array, now = Date.now()): TelemetryParseResult {
  if (payload.byteLength > MAX_TELEMETRY_PAYLOAD_BYTES) {
    return { ok: false, reason: 'payload-too-large', detail: `${payload.byteLength} bytes > ${MAX_TELEMETRY_PAYLOAD_BYTES}` }
  }
  let text: string
  try {
    text = utf8.decode(payload)
  } catch {
    return { ok: false, reason: 'invalid-utf8', detail: 'payload is not UTF-8' }
  }
  // Postgres refuses NUL in text, and JSON.parse accepts the escaped form: refuse both.
  if (text.includes('\u0000') || text.includes('\\u0000')) return { ok: false, reason: 'nul-byte', detail: 'payload contains a NUL character' }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: 'invalid-json', detail: (err as Error).message }
  }
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
