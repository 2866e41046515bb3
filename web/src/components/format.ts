// Formatting of the fleet's figures for display; every function returns plain text.

const countFormat = new Intl.NumberFormat()
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
const olderFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' })

export function formatCount (value: number): string {
  return countFormat.format(value)
}

/** Today's times as a clock time, this year's with their date, older ones as a date. */
export function formatTimestamp (iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '—'
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return '—'
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate()
  if (sameDay) return timeFormat.format(date)
  return date.getFullYear() === now.getFullYear() ? dateTimeFormat.format(date) : olderFormat.format(date)
}

/** A metric with its unit, or a dash when the device has not reported it. */
export function formatMetric (value: unknown, unit = '', digits = 0): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—'
  // 1 decimal place at most, with no trailing zero: -10.5, 23, 7.2
  const text = digits > 0 ? String(Number(value.toFixed(digits))) : String(Math.round(value))
  return unit ? `${text} ${unit}` : text
}

export function formatText (value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : '—'
}
