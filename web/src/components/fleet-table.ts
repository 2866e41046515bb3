import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { virtualize } from '@lit-labs/virtualizer/virtualize.js'
import type { ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext, fleetContext, routerContext } from '../data/context.ts'
import type { DeviceDetail, Operator } from '../data/console-types.ts'
import type { EventStream } from '../data/event-stream.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { devicesOfOperator, listOperators } from '../data/operator-filter.ts'
import { StreamStateController } from '../data/stream-state-controller.ts'
import type { Device } from '../data/types.ts'
import { LocaleController, locale, t } from '../i18n/index.ts'
import { devicePath, type Router } from '../router.ts'
import { columns, compareValues, csvField, storeColumns, storedColumns, type Column, type ColumnKey } from './fleet-columns.ts'
import { formatCount, formatDateTime, formatMetric, formatRelative, formatText } from './format.ts'

type StatusFilter = '' | 'online' | 'offline'
interface Filters { q: string, status: StatusFilter, tag: string, rat: string, site: string, operator: string }
const emptyFilters: Filters = { q: '', status: '', tag: '', rat: '', site: '', operator: '' }
const filterKeys = Object.keys(emptyFilters) as Array<keyof Filters>

/**
 * Every device of the fleet, one row each (a card on a phone), live. Only the rows in view exist in
 * the DOM (@lit-labs/virtualizer); the list of ids is derived again only when the filters, the sort or
 * the fleet's membership (or statuses, when they matter) change, so a telemetry update re-renders just
 * the visible rows. Filters and sort live in the URL's query (`/?site=north&sort=rsrp`).
 */
@customElement('fleet-table')
export class FleetTable extends LitElement {
  static override styles = css`
    :host {
      display: flex;
      flex-direction: column;
      flex: 1;
      min-height: 0;
      font-size: 0.875rem;
    }
    .toolbar {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem 0.6rem;
      padding: 0.6rem 1rem;
    }
    input, select, button, summary {
      font: inherit;
      font-size: 0.85rem;
      color: var(--hub-fg);
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      padding: 0.3rem 0.5rem;
      min-width: 0;
      box-sizing: border-box;
    }
    button, summary { cursor: pointer; }
    input[type=search] { width: min(21rem, 100%); }
    a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, .row:focus-visible {
      outline: 2px solid var(--hub-accent);
      outline-offset: -2px;
    }
    details { position: relative; }
    details[open] > summary { background: var(--hub-row-hover); }
    .chooser {
      position: absolute;
      z-index: 3;
      top: calc(100% + 0.25rem);
      left: 0;
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      box-shadow: 0 4px 14px rgb(0 0 0 / 0.18);
      padding: 0.5rem 0.75rem;
      display: grid;
      gap: 0.25rem;
      min-width: 11rem;
    }
    .chooser label { display: flex; gap: 0.4rem; align-items: center; white-space: nowrap; }
    .count {
      margin-left: auto;
      color: var(--hub-muted);
      font-size: 0.85rem;
    }
    .scroll {
      flex: 1;
      min-height: 0;
      overflow: auto;
      margin: 0 1rem 1rem;
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
    }
    .header, .row {
      display: grid;
      grid-template-columns: var(--columns);
      align-items: center;
      column-gap: 0.75rem;
      padding: 0 0.75rem;
      min-width: var(--table-min-width);
      box-sizing: border-box;
    }
    .header {
      position: sticky;
      top: 0;
      z-index: 1;
      height: 2.25rem;
      background: var(--hub-header-bg);
      border-bottom: 1px solid var(--hub-border);
    }
    .header button {
      all: unset;
      cursor: pointer;
      font-size: 0.75rem;
      font-weight: 600;
      color: var(--hub-muted);
      text-transform: uppercase;
      letter-spacing: 0.03em;
      white-space: nowrap;
      overflow: hidden;
      text-overflow: ellipsis;
    }
    :host(:lang(my)) .header button { text-transform: none; letter-spacing: 0; font-size: 0.8rem; }
    .header button:focus-visible { outline: 2px solid var(--hub-accent); }
    .header [aria-sort=ascending] button::after { content: ' ▲'; }
    .header [aria-sort=descending] button::after { content: ' ▼'; }
    .rows { min-width: var(--table-min-width); }
    .row {
      width: 100%;
      min-height: 2.5rem;
      border-bottom: 1px solid var(--hub-row-border);
      cursor: pointer;
    }
    .row:hover { background: var(--hub-row-hover); }
    .cell {
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .cell a { color: inherit; font-weight: 500; text-decoration: none; }
    .cell a:hover { text-decoration: underline; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    .header .num { text-align: right; }
    .mono { font-family: var(--hub-mono); font-size: 0.8rem; color: var(--hub-muted); }
    .status { display: flex; align-items: center; gap: 0.4rem; }
    .dot {
      flex: none;
      width: 0.6rem;
      height: 0.6rem;
      border-radius: 50%;
      background: var(--hub-offline);
    }
    .online .dot { background: var(--hub-online); box-shadow: 0 0 0 3px var(--hub-online-halo); }
    .offline .status { color: var(--hub-muted); }
    .stale .dot { background: transparent; border: 2px dashed var(--hub-warning); width: 0.45rem; height: 0.45rem; }
    .stale .status { color: var(--hub-warning-text); }
    .tag {
      display: inline-block;
      margin-right: 0.3rem;
      padding: 0 0.4rem;
      border-radius: 0.6rem;
      background: var(--hub-tag-bg);
      font-size: 0.75rem;
      line-height: 1.2rem;
    }
    .count-accepted, .count-rejected { font-variant-numeric: tabular-nums; }
    .count-rejected, .last-rejected { color: var(--hub-danger); font-weight: 600; }
    .empty { padding: 2rem; text-align: center; color: var(--hub-muted); }

    /* a phone: one card per device, the figures that matter with their labels */
    @media (max-width: 48rem) {
      .toolbar { padding: 0.5rem 0.6rem; }
      input[type=search] { width: 100%; }
      .toolbar select { flex: 1 1 7rem; }
      .count { margin-left: 0; width: 100%; }
      .scroll { margin: 0 0.6rem 0.6rem; }
      .header { display: none; }
      .rows, .row { min-width: 0; }
      .row {
        grid-template-columns: repeat(2, minmax(0, 1fr));
        grid-template-areas: "name status";
        gap: 0.2rem 0.75rem;
        padding: 0.55rem 0.75rem;
      }
      .cell { display: none; }
      .cell[data-col=name] { display: block; grid-area: name; font-size: 0.95rem; }
      .cell[data-col=status] { display: flex; grid-area: status; justify-content: end; }
      .cell[data-col=lastSeen], .cell[data-col=rsrp], .cell[data-col=sinr], .cell[data-col=battery], .cell[data-col=rat], .cell[data-col=site] {
        display: block;
        text-align: left;
        font-size: 0.8rem;
      }
      .cell[data-col=tags] { display: block; grid-column: 1 / -1; }
      .cell[data-col=tags]:empty { display: none; }
      .cell[data-col=lastSeen]::before, .cell[data-col=rsrp]::before, .cell[data-col=sinr]::before,
      .cell[data-col=battery]::before, .cell[data-col=rat]::before, .cell[data-col=site]::before {
        content: attr(data-label) " ";
        color: var(--hub-muted);
      }
    }
  `

  @consume({ context: fleetContext, subscribe: true })
  fleet: FleetStore | undefined

  @consume({ context: eventStreamContext, subscribe: true })
  stream: EventStream | undefined

  @consume({ context: apiContext })
  api!: ApiClient

  @consume({ context: routerContext })
  router!: Router

  @state() private filters: Filters = readFilters()
  @state() private sort: { key: ColumnKey, descending: boolean } | null = readSort()
  @state() private visible: Set<ColumnKey> = storedColumns()
  @state() private operators: Operator[] = []
  /** The devices of the chosen operator (from the hub), or null while none is chosen or loading. */
  @state() private operatorIds: Set<string> | null = null
  @state() private tick = 0

  readonly #fleet = new FleetController(this, () => this.fleet)
  readonly #stream = new StreamStateController(this, () => this.stream)
  protected readonly i18n = new LocaleController(this)
  /** The ids to show, filtered and sorted: derived in willUpdate, handed to the virtualizer. */
  #rows: readonly string[] = []
  #choices = { tags: [] as string[], rats: [] as string[], sites: [] as string[] }
  #seen = { store: undefined as FleetStore | undefined, membership: -1, status: -1, version: -1, locale: '' }
  #queryTimer: ReturnType<typeof setTimeout> | undefined
  #clock: ReturnType<typeof setInterval> | undefined
  #operatorLoad: AbortController | null = null

  override connectedCallback (): void {
    super.connectedCallback()
    // relative "last seen" times move on by themselves
    this.#clock = setInterval(() => { this.tick++ }, 30_000)
    listOperators(this.api).then(items => { this.operators = items }, () => {})
    if (this.filters.operator) this.#loadOperator(this.filters.operator)
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    clearTimeout(this.#queryTimer)
    clearInterval(this.#clock)
    this.#operatorLoad?.abort()
  }

  protected override willUpdate (changed: PropertyValues): void {
    const store = this.#fleet.store
    if (!store) {
      this.#rows = []
      return
    }
    const seen = this.#seen
    const statusMatters = this.filters.status !== '' || this.sort?.key === 'status'
    // choices (tags, RATs, sites) follow the fleet's data, at most once per membership or status change
    const choicesStale = seen.store !== store || seen.membership !== store.membershipVersion || seen.status !== store.statusVersion
    const stale = changed.has('filters') || changed.has('sort') || changed.has('operatorIds') || seen.store !== store ||
      seen.membership !== store.membershipVersion || seen.locale !== locale() ||
      (statusMatters && seen.status !== store.statusVersion) ||
      // a RAT filter or a telemetry sort follows the figures, but no more than once per render batch
      ((this.filters.rat !== '' || isTelemetrySort(this.sort?.key)) && changed.has('tick'))
    if (choicesStale) this.#choices = collectChoices(store)
    if (!stale) return
    this.#seen = { store, membership: store.membershipVersion, status: store.statusVersion, version: store.version, locale: locale() }
    this.#rows = selectIds(store, this.filters, this.operatorIds, this.sort)
  }

  protected override updated (): void {
    const shown = columns.filter(c => this.visible.has(c.key))
    this.style.setProperty('--columns', shown.map(c => c.width).join(' '))
    this.style.setProperty('--table-min-width', `${shown.length * 6.2 + 4}rem`)
  }

  protected override render () {
    const store = this.#fleet.store
    const total = store?.ids.length ?? 0
    const rows = this.#rows
    const loading = store ? !store.progress.done : true
    const f = this.filters
    const shown = columns.filter(c => this.visible.has(c.key))
    const select = (key: keyof Filters, label: string, all: string, options: Array<[string, string]>) => html`
      <select aria-label=${label} data-filter=${key} @change=${(e: Event) => this.#setFilter(key, (e.target as HTMLSelectElement).value)}>
        <option value="" ?selected=${f[key] === ''}>${all}</option>
        ${options.map(([value, text]) => html`<option value=${value} ?selected=${f[key] === value}>${text}</option>`)}
      </select>`
    return html`
      <div class="toolbar">
        <input type="search" .value=${f.q} placeholder=${t('fleet.search')} aria-label=${t('fleet.searchLabel')} @input=${this.#onQuery}>
        ${select('status', t('col.status'), t('fleet.allStatuses'), [['online', t('status.online')], ['offline', t('status.offline')]])}
        ${select('tag', t('col.tags'), t('fleet.allTags'), this.#choices.tags.map(x => [x, x]))}
        ${select('operator', t('fleet.operator'), t('fleet.allOperators'), this.operators.map(o => [o.id, o.name]))}
        ${select('rat', t('col.rat'), t('fleet.allRats'), this.#choices.rats.map(x => [x, x]))}
        ${select('site', t('col.site'), t('fleet.allSites'), this.#choices.sites.map(x => [x, x]))}
        <details>
          <summary>${t('fleet.columns')}</summary>
          <div class="chooser" role="group" aria-label=${t('fleet.columns')}>
            ${columns.map(c => html`<label><input type="checkbox" data-column=${c.key} .checked=${this.visible.has(c.key)} ?disabled=${c.key === 'name'} @change=${(e: Event) => this.#toggleColumn(c.key, (e.target as HTMLInputElement).checked)}>${t(c.label)}</label>`)}
          </div>
        </details>
        <button type="button" data-export @click=${this.#exportCsv} ?disabled=${rows.length === 0}>${t('fleet.export')}</button>
        <span class="count" role="status">${rows.length === total ? t('fleet.count', { total }) : t('fleet.countOf', { shown: rows.length, total })}</span>
      </div>
      <div class="scroll" role="table" aria-label=${t('fleet.tableLabel')} aria-rowcount=${rows.length + 1}>
        <div class="header" role="row" aria-rowindex="1">
          ${shown.map(c => html`<span role="columnheader" class=${c.numeric ? 'num' : ''} aria-sort=${this.sort?.key === c.key ? (this.sort.descending ? 'descending' : 'ascending') : 'none'}>
            <button type="button" data-sort=${c.key} @click=${() => this.#sortBy(c.key)}>${t(c.label)}</button></span>`)}
        </div>
        <div class="rows" role="rowgroup">
          ${virtualize({ items: rows as string[], renderItem: (id: string, index: number) => this.#renderRow(id, index, shown), keyFunction: (id: string) => id })}
        </div>
        ${rows.length === 0
          ? html`<div class="empty">${loading ? t('fleet.loading') : total === 0 ? t('fleet.none') : t('fleet.noMatch')}</div>`
          : null}
      </div>
    `
  }

  #renderRow (id: string, index: number, shown: Column[]) {
    const device = this.#fleet.store?.get(id) as DeviceDetail | undefined
    if (!device) return html``
    const status = this.#stream.stale ? 'stale' : device.status
    return html`
      <div class="row ${status}" role="row" aria-rowindex=${index + 2} data-device-id=${device.id} data-status=${status}
        @click=${(e: MouseEvent) => this.#open(e, device.id)}>
        ${shown.map(c => this.#renderCell(c, device, status))}
      </div>
    `
  }

  #renderCell (column: Column, device: DeviceDetail, status: string) {
    const telemetry = device.latestTelemetry
    // a card's labels come from CSS (::before, phones only), so a cell's text is its value alone
    const cell = (content: unknown, extra = '', title = '') =>
      html`<span role="cell" data-col=${column.key} data-label=${t(column.label)} class="cell ${column.numeric ? 'num' : ''} ${extra}" title=${title}>${content}</span>`
    switch (column.key) {
      case 'name': return cell(html`<a href=${devicePath(device.id)}>${device.name}</a>`, '', device.name)
      case 'id': return cell(device.id, 'mono', device.id)
      case 'status': return cell(html`<span class="dot"></span>${t(`status.${status as 'online'}`)}`, 'status', status === 'stale' ? t('live.staleHint') : '')
      case 'lastSeen': return cell(formatRelative(device.lastSeenAt), '', formatDateTime(device.lastSeenAt))
      case 'rsrp': return cell(formatMetric(telemetry?.rsrp, 'dBm'))
      case 'rsrq': return cell(formatMetric(telemetry?.rsrq, 'dB', 1))
      case 'sinr': return cell(formatMetric(telemetry?.sinr, 'dB', 1))
      case 'rat': return cell(formatText(telemetry?.rat))
      case 'battery': return cell(formatMetric(telemetry?.battery, '%'))
      case 'temperature': return cell(formatMetric(telemetry?.temperature, '°C', 1))
      case 'site': return cell(device.site ?? '—')
      case 'notifications': return cell(notificationCell(device), '', notificationTitle(device))
      case 'tags': return cell(device.tags.map(tag => html`<span class="tag">${tag}</span>`))
    }
  }

  #open (event: MouseEvent, id: string): void {
    // the name is a link (keyboard, middle click); the rest of the row is a convenience for the mouse
    if (event.defaultPrevented || (event.target as Element).closest('a')) return
    this.router.navigate(devicePath(id))
  }

  #onQuery = (event: Event): void => {
    const value = (event.target as HTMLInputElement).value
    clearTimeout(this.#queryTimer)
    this.#queryTimer = setTimeout(() => this.#setFilter('q', value.trim()), 150)
  }

  #setFilter (key: keyof Filters, value: string): void {
    this.filters = { ...this.filters, [key]: value }
    if (key === 'operator') this.#loadOperator(value)
    this.#writeQuery()
  }

  #loadOperator (operator: string): void {
    this.#operatorLoad?.abort()
    this.operatorIds = null
    if (!operator) return
    const controller = new AbortController()
    this.#operatorLoad = controller
    devicesOfOperator(this.api, operator, controller.signal).then(ids => {
      if (!controller.signal.aborted) this.operatorIds = ids
    }, () => {
      if (!controller.signal.aborted) this.operatorIds = new Set()
    })
  }

  #sortBy (key: ColumnKey): void {
    const current = this.sort
    // first click ascending, second descending, third back to the fleet's own order
    this.sort = current?.key !== key ? { key, descending: false } : current.descending ? null : { key, descending: true }
    this.#writeQuery()
  }

  #toggleColumn (key: ColumnKey, on: boolean): void {
    const next = new Set(this.visible)
    if (on) next.add(key)
    else next.delete(key)
    this.visible = next
    storeColumns(next)
  }

  #writeQuery (): void {
    const params = new URLSearchParams()
    for (const key of filterKeys) if (this.filters[key]) params.set(key, this.filters[key])
    if (this.sort) {
      params.set('sort', this.sort.key)
      if (this.sort.descending) params.set('dir', 'desc')
    }
    this.router.replaceQuery(params)
  }

  #exportCsv = (): void => {
    const store = this.#fleet.store
    if (!store) return
    const header = ['id', 'name', 'status', 'lastSeenAt', 'rsrp', 'rsrq', 'sinr', 'rat', 'battery', 'temperature', 'site', 'tags', 'eid', 'imei', 'notificationsAccepted', 'notificationsRejected']
    const lines = [header.join(',')]
    const stale = this.#stream.stale
    for (const id of this.#rows) {
      const d = store.get(id) as DeviceDetail | undefined
      if (!d) continue
      const m = d.latestTelemetry
      lines.push([d.id, d.name, stale ? 'stale' : d.status, d.lastSeenAt, m?.rsrp, m?.rsrq, m?.sinr, m?.rat, m?.battery, m?.temperature, d.site ?? null, d.tags.join(';'), d.eid, d.imei,
        d.notificationCounts?.accepted ?? 0, d.notificationCounts?.rejected ?? 0].map(csvField).join(','))
    }
    const blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' })
    const url = URL.createObjectURL(blob)
    const link = document.createElement('a')
    link.href = url
    link.download = `devices-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.csv`
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
}

function isTelemetrySort (key: ColumnKey | undefined): boolean {
  return key === 'rsrp' || key === 'rsrq' || key === 'sinr' || key === 'battery' || key === 'temperature' || key === 'rat' || key === 'lastSeen'
}

function readFilters (): Filters {
  const params = new URLSearchParams(location.search)
  const filters = { ...emptyFilters }
  for (const key of filterKeys) filters[key] = (params.get(key) ?? '') as never
  if (filters.status !== 'online' && filters.status !== 'offline') filters.status = ''
  return filters
}

function readSort (): { key: ColumnKey, descending: boolean } | null {
  const params = new URLSearchParams(location.search)
  const key = params.get('sort')
  const column = columns.find(c => c.key === key)
  return column ? { key: column.key, descending: params.get('dir') === 'desc' } : null
}

/** Accepted count, rejected count when there are any, and the newest notification: `✓ 3 ✗ 1 enable #12`. */
function notificationCell (device: Device) {
  const last = device.lastNotification
  const counts = device.notificationCounts ?? { accepted: 0, rejected: 0 }
  if (!last && counts.accepted === 0 && counts.rejected === 0) return '—'
  const rejected = counts.rejected > 0 ? html` <span class="count-rejected" data-count="rejected">✗ ${formatCount(counts.rejected)}</span>` : null
  const newest = last ? html` <span class="last-${last.status}" data-last=${last.status}>${describeNotification(last)}</span>` : null
  return html`<span class="count-accepted" data-count="accepted">✓ ${formatCount(counts.accepted)}</span>${rejected}${newest}`
}

function describeNotification (last: NonNullable<Device['lastNotification']>): string {
  if (last.status === 'rejected') return t('notification.rejectedReason', { reason: last.reason ?? t('notification.unknown') })
  const operation = last.operation ?? t('notification.generic')
  return last.seqNumber === null ? operation : `${operation} #${last.seqNumber}`
}

function notificationTitle (device: Device): string {
  const counts = device.notificationCounts ?? { accepted: 0, rejected: 0 }
  const last = device.lastNotification
  const summary = t('notification.summary', { accepted: counts.accepted, rejected: counts.rejected })
  return last ? t('notification.summaryLast', { summary, last: describeNotification(last), at: formatDateTime(last.receivedAt) }) : summary
}

function collectChoices (store: FleetStore) {
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

function selectIds (store: FleetStore, f: Filters, operatorIds: Set<string> | null, sort: { key: ColumnKey, descending: boolean } | null): readonly string[] {
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

declare global {
  interface HTMLElementTagNameMap {
    'fleet-table': FleetTable
  }
}
