import { LitElement, html, type PropertyValues } from 'lit'
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
import { LocaleController, locale, t } from '../i18n/index.ts'
import { devicePath, type Router } from '../router.ts'
import { columns, csvField, storeColumns, storedColumns, type Column, type ColumnKey } from './fleet-columns.ts'
import { formatDateTime, formatMetric, formatRelative, formatText } from './format.ts'

import { fleetTableStyles } from './fleet-table-styles.ts'
import { collectChoices, filterKeys, isTelemetrySort, readFilters, readSort, selectIds, type Filters } from './fleet-selection.ts'
import { notificationCell, notificationTitle } from './notification-cell.ts'

/**
 * Every device of the fleet, one row each (a card on a phone), live. Only the rows in view exist in
 * the DOM (@lit-labs/virtualizer); the list of ids is derived again only when the filters, the sort or
 * the fleet's membership (or statuses, when they matter) change, so a telemetry update re-renders just
 * the visible rows. Filters and sort live in the URL's query (`/?site=north&sort=rsrp`).
 */
@customElement('fleet-table')
export class FleetTable extends LitElement {
  static override styles = fleetTableStyles

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

declare global {
  interface HTMLElementTagNameMap {
    'fleet-table': FleetTable
  }
}
