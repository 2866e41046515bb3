// The fleet table's columns: what each shows, how it sorts, its width, and whether it is shown by
// default (the defaults fit 1440 px; the column chooser adds or removes the rest).
import type { DeviceDetail } from '../data/console-types.ts'
import type { MessageKey } from '../i18n/index.ts'

export type ColumnKey = 'name' | 'id' | 'status' | 'lastSeen' | 'rsrp' | 'rsrq' | 'sinr' | 'rat' | 'battery' | 'temperature' | 'site' | 'notifications' | 'tags'

export interface Column {
  key: ColumnKey
  label: MessageKey
  width: string
  numeric?: boolean
  /** Shown unless the user hid it. */
  default: boolean
  /** The value sorted by (undefined and null last, whichever the direction). */
  sortValue: (device: DeviceDetail) => string | number | null | undefined
}

const metric = (name: 'rsrp' | 'rsrq' | 'sinr' | 'battery' | 'temperature') =>
  (device: DeviceDetail) => {
    const value = device.latestTelemetry?.[name]
    return typeof value === 'number' ? value : null
  }

export const columns: readonly Column[] = [
  { key: 'name', label: 'col.name', width: 'minmax(10rem, 1.4fr)', default: true, sortValue: d => d.name.toLowerCase() },
  { key: 'id', label: 'col.id', width: 'minmax(9rem, 1fr)', default: false, sortValue: d => d.id },
  { key: 'status', label: 'col.status', width: '6.5rem', default: true, sortValue: d => d.status },
  { key: 'lastSeen', label: 'col.lastSeen', width: '7.5rem', default: true, sortValue: d => d.lastSeenAt === null ? null : Date.parse(d.lastSeenAt) },
  { key: 'rsrp', label: 'col.rsrp', width: '5.5rem', numeric: true, default: true, sortValue: metric('rsrp') },
  { key: 'rsrq', label: 'col.rsrq', width: '5rem', numeric: true, default: true, sortValue: metric('rsrq') },
  { key: 'sinr', label: 'col.sinr', width: '5rem', numeric: true, default: true, sortValue: metric('sinr') },
  { key: 'rat', label: 'col.rat', width: '4.5rem', default: true, sortValue: d => d.latestTelemetry?.rat ?? null },
  { key: 'battery', label: 'col.battery', width: '5rem', numeric: true, default: true, sortValue: metric('battery') },
  { key: 'temperature', label: 'col.temperature', width: '5rem', numeric: true, default: false, sortValue: metric('temperature') },
  { key: 'site', label: 'col.site', width: 'minmax(6rem, 0.8fr)', default: true, sortValue: d => d.site ?? null },
  { key: 'notifications', label: 'col.notifications', width: 'minmax(11rem, 1.2fr)', default: true, sortValue: d => (d.notificationCounts?.rejected ?? 0) * 1e9 + (d.notificationCounts?.accepted ?? 0) },
  { key: 'tags', label: 'col.tags', width: 'minmax(7rem, 1fr)', default: true, sortValue: d => d.tags.join(',').toLowerCase() || null }
]

export const columnKeys = columns.map(c => c.key)

const storageKey = 'euicc-hub.fleet-columns'

export function storedColumns (): Set<ColumnKey> {
  try {
    const raw = localStorage.getItem(storageKey)
    if (raw) {
      const keys = (JSON.parse(raw) as string[]).filter((k): k is ColumnKey => (columnKeys as string[]).includes(k))
      if (keys.length > 0) return new Set(keys)
    }
  } catch {}
  return new Set(columns.filter(c => c.default).map(c => c.key))
}

export function storeColumns (keys: Set<ColumnKey>): void {
  try {
    localStorage.setItem(storageKey, JSON.stringify([...keys]))
  } catch {}
}

/** Compares two sort values: nulls last, numbers numerically, text by the language's collation. */
export function compareValues (a: string | number | null | undefined, b: string | number | null | undefined, collator: Intl.Collator): number {
  const aMissing = a === null || a === undefined
  const bMissing = b === null || b === undefined
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return collator.compare(String(a), String(b))
}

/** One CSV field: quoted when needed, and text that a spreadsheet would run as a formula is defused. */
export function csvField (value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : ''
  let text = value
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}
