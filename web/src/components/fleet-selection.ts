// What the fleet table shows: the filters and sort read from the URL, the choices offered (tags, RATs,
// sites seen in the fleet), and the ids that pass the filters in the chosen order.
import type { DeviceDetail } from '../data/console-types.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import type { Device } from '../data/types.ts'
import { locale } from '../i18n/index.ts'
import { columns, compareValues, type ColumnKey } from './fleet-columns.ts'

type StatusFilter = '' | 'online' | 'offline'
export interface Filters { q: string, status: StatusFilter, tag: string, rat: string, site: string, operator: string }
export const emptyFilters: Filters = { q: '', status: '', tag: '', rat: '', site: '', operator: '' }
export const filterKeys = Object.keys(emptyFilters) as Array<keyof Filters>

export function isTelemetrySort (key: ColumnKey | undefined): boolean {
  return key === 'rsrp' || key === 'rsrq' || key === 'sinr' || key === 'battery' || key === 'temperature' || key === 'rat' || key === 'lastSeen'
}

export function readFilters (): Filters {
  const params = new URLSearchParams(location.search)
  const filters = { ...emptyFilters }
  for (const key of filterKeys) filters[key] = (params.get(key) ?? '') as never
  if (filters.status !== 'online' && filters.status !== 'offline') filters.status = ''
  return filters
}

export function readSort (): { key: ColumnKey, descending: boolean } | null {
  const params = new URLSearchParams(location.search)
  const key = params.get('sort')
  const column = columns.find(c => c.key === key)
  return column ? { key: column.key, descending: params.get('dir') === 'desc' } : null
}

export function collectChoices (store: FleetStore) {
  const tags = new Set<string>()
  const rats = new Set<string>()
  const sites = new Set<string>()
  for (const id of store.ids) {
    const device = store.get(id) as DeviceDetail | undefined
    if (!device) continue
    for (const tag of device.tags) tags.add(tag)
    const rat = device.latestTelemetry?.rat
    if (typeof rat === 'string' && rat) rats.add(rat)
    if (device.site) sites.add(device.site)
  }
  const sorted = (set: Set<string>) => [...set].sort((a, b) => a.localeCompare(b))
  return { tags: sorted(tags), rats: sorted(rats), sites: sorted(sites) }
}

export function selectIds (store: FleetStore, f: Filters, operatorIds: Set<string> | null, sort: { key: ColumnKey, descending: boolean } | null): readonly string[] {
  const query = f.q.toLowerCase()
  const filtered = !query && !f.status && !f.tag && !f.rat && !f.site && !f.operator
  let ids: readonly string[] = store.ids
  if (!filtered) {
    const out: string[] = []
    for (const id of store.ids) {
      const device = store.get(id) as DeviceDetail | undefined
      if (!device) continue
      if (f.status && device.status !== f.status) continue
      if (f.tag && !device.tags.includes(f.tag)) continue
      if (f.rat && device.latestTelemetry?.rat !== f.rat) continue
      if (f.site && device.site !== f.site) continue
      if (f.operator && !operatorIds?.has(id)) continue
      if (query && !matches(device, query)) continue
      out.push(id)
    }
    ids = out
  }
  if (!sort) return ids
  const column = columns.find(c => c.key === sort.key)
  if (!column) return ids
  const collator = new Intl.Collator(locale(), { numeric: true })
  const keyed = ids.map(id => {
    const device = store.get(id) as DeviceDetail
    return { id, value: column.sortValue(device) }
  })
  const direction = sort.descending ? -1 : 1
  keyed.sort((a, b) => {
    const missingA = a.value === null || a.value === undefined
    const missingB = b.value === null || b.value === undefined
    if (missingA || missingB) return compareValues(a.value, b.value, collator) // missing last either way
    return direction * compareValues(a.value, b.value, collator)
  })
  return keyed.map(k => k.id)
}

function matches (device: Device, query: string): boolean {
  return device.name.toLowerCase().includes(query) ||
    device.id.toLowerCase().includes(query) ||
    (device.eid?.toLowerCase().includes(query) ?? false) ||
    (device.imei?.includes(query) ?? false) ||
    device.tags.some(tag => tag.toLowerCase().includes(query))
}
