// Formatting of figures, times and sizes for display, in the current language (Intl); every function
// returns plain text.
import { locale, numberFormat, t } from '../i18n/index.ts'

interface Formats {
  locale: string
  time: Intl.DateTimeFormat
  dateTime: Intl.DateTimeFormat
  older: Intl.DateTimeFormat
  full: Intl.DateTimeFormat
  relative: Intl.RelativeTimeFormat
  day: Intl.DateTimeFormat
  month: Intl.DateTimeFormat
}
let formats: Formats | null = null

function current (): Formats {
  const code = locale()
  if (formats?.locale !== code) {
    formats = {
      locale: code,
      time: new Intl.DateTimeFormat(code, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
      dateTime: new Intl.DateTimeFormat(code, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }),
      older: new Intl.DateTimeFormat(code, { year: 'numeric', month: 'short', day: 'numeric' }),
      full: new Intl.DateTimeFormat(code, { dateStyle: 'medium', timeStyle: 'medium' }),
      relative: new Intl.RelativeTimeFormat(code, { numeric: 'auto', style: 'short' }),
      // usage periods start at midnight UTC (the hub counts per UTC day and month)
      day: new Intl.DateTimeFormat(code, { month: 'short', day: 'numeric', weekday: 'short', timeZone: 'UTC' }),
      month: new Intl.DateTimeFormat(code, { year: 'numeric', month: 'long', timeZone: 'UTC' })
    }
  }
  return formats
}

export function formatCount (value: number): string {
  return numberFormat().format(value)
}

function parse (iso: string | null | undefined): Date | null {
  if (!iso) return null
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? null : date
}

/** Today's times as a clock time, this year's with their date, older ones as a date. */
export function formatTimestamp (iso: string | null | undefined, now = new Date()): string {
  const date = parse(iso)
  if (!date) return '—'
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate()
  if (sameDay) return current().time.format(date)
  return date.getFullYear() === now.getFullYear() ? current().dateTime.format(date) : current().older.format(date)
}

/** The exact local date and time (for tooltips, audit rows, command times). */
export function formatDateTime (iso: string | null | undefined): string {
  const date = parse(iso)
  return date ? current().full.format(date) : '—'
}

/** "5 min ago", "yesterday", "in 3 h": the unit that fits, in the current language. */
export function formatRelative (iso: string | null | undefined, now = Date.now()): string {
  const date = parse(iso)
  if (!date) return '—'
  const seconds = Math.round((date.getTime() - now) / 1000)
  const abs = Math.abs(seconds)
  const relative = current().relative
  // "now" in words of the language (ICU has none for Myanmar)
  if (abs < 45) return t('time.now')
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute')
  if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), 'hour')
  if (abs < 26 * 86400) return relative.format(Math.round(seconds / 86400), 'day')
  return current().older.format(date)
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

/** A usage period's start (midnight UTC) as its day or month. */
export function formatPeriod (iso: string, period: 'day' | 'month'): string {
  const date = parse(iso)
  return date ? current()[period].format(date) : '—'
}

const byteUnits = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const
/** A data volume in decimal units (kB, MB, GB: as plans count), at most one decimal. */
export function formatBytes (bytes: number): string {
  let unit = 0
  while (bytes >= 1000 && unit < byteUnits.length - 1) {
    bytes /= 1000
    unit++
  }
  return new Intl.NumberFormat(locale(), { style: 'unit', unit: byteUnits[unit], unitDisplay: 'short', maximumFractionDigits: unit ? 1 : 0 }).format(bytes)
}
