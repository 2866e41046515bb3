import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { virtualize } from '@lit-labs/virtualizer/virtualize.js'
import { fleetContext } from '../data/context.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import type { Device } from '../data/types.ts'
import { formatCount, formatMetric, formatText, formatTimestamp } from './format.ts'

type StatusFilter = 'all' | 'online' | 'offline'

const headers = ['Name', 'ID', 'Status', 'Last seen', 'RSRP', 'RSRQ', 'SINR', 'RAT', 'Battery', 'Temp.', 'Notifications', 'Tags']

/**
 * Every device of the fleet, one row each, live. Only the rows in view exist
 * in the DOM (@lit-labs/virtualizer); the list of ids changes only when the
 * filter or the fleet's membership does, so a telemetry update re-renders just
 * the visible rows.
 */
@customElement('fleet-table')
export class FleetTable extends LitElement {
  static override styles = css`
    :host {
      --columns: minmax(10rem, 1.5fr) minmax(9rem, 1fr) 6rem 9.5rem 5.5rem 5rem 5rem 4rem 4.5rem 4.5rem minmax(12rem, 1.2fr) minmax(8rem, 1.2fr);
      --table-min-width: 92rem;
      display: flex;
      flex-direction: column;
      flex: 1;
      min-height: 0;
    }
    .toolbar {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem 1rem;
      padding: 0.6rem 1rem;
    }
    input, select {
      font: inherit;
      font-size: 0.9rem;
      color: var(--hub-fg);
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      padding: 0.35rem 0.5rem;
    }
    input {
      width: min(24rem, 100%);
    }
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
      font-size: 0.8rem;
      font-weight: 600;
      color: var(--hub-muted);
      text-transform: uppercase;
      letter-spacing: 0.03em;
    }
    .rows {
      min-width: var(--table-min-width);
    }
    .row {
      width: 100%;
      height: 2.5rem;
      border-bottom: 1px solid var(--hub-row-border);
      font-size: 0.875rem;
    }
    .row:hover {
      background: var(--hub-row-hover);
    }
    .row > span {
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .num {
      text-align: right;
      font-variant-numeric: tabular-nums;
    }
    .header .num {
      text-align: right;
    }
    .mono {
      font-family: var(--hub-mono);
      font-size: 0.8rem;
      color: var(--hub-muted);
    }
    .status {
      display: flex;
      align-items: center;
      gap: 0.4rem;
    }
    .dot {
      flex: none;
      width: 0.6rem;
      height: 0.6rem;
      border-radius: 50%;
      background: var(--hub-offline);
    }
    .online .dot {
      background: var(--hub-online);
      box-shadow: 0 0 0 3px var(--hub-online-halo);
    }
    .offline .status {
      color: var(--hub-muted);
    }
    .tag {
      display: inline-block;
      margin-right: 0.3rem;
      padding: 0 0.4rem;
      border-radius: 0.6rem;
      background: var(--hub-tag-bg);
      font-size: 0.75rem;
      line-height: 1.2rem;
    }
    .count-accepted, .count-rejected {
      font-variant-numeric: tabular-nums;
    }
    .count-rejected, .last-rejected {
      color: var(--hub-danger);
      font-weight: 600;
    }
    .empty {
      padding: 2rem;
      text-align: center;
      color: var(--hub-muted);
    }
  `

  @consume({ context: fleetContext, subscribe: true })
  fleet: FleetStore | undefined

  @state()
  private query = ''

  @state()
  private statusFilter: StatusFilter = 'all'

  readonly #fleet = new FleetController(this, () => this.fleet)
  /** The ids to show, in the fleet's order: derived in willUpdate, handed to the virtualizer. */
  #rows: readonly string[] = []
  #seen = { store: undefined as FleetStore | undefined, membership: -1, status: -1 }
  #queryTimer: ReturnType<typeof setTimeout> | undefined

  protected override willUpdate (changed: PropertyValues): void {
    const store = this.#fleet.store
    if (!store) {
      this.#rows = []
      return
    }
    const seen = this.#seen
    const stale = changed.has('query') || changed.has('statusFilter') || seen.store !== store ||
      seen.membership !== store.membershipVersion ||
      (this.statusFilter !== 'all' && seen.status !== store.statusVersion)
    if (!stale) return
    this.#seen = { store, membership: store.membershipVersion, status: store.statusVersion }
    this.#rows = filterIds(store, this.query, this.statusFilter)
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    clearTimeout(this.#queryTimer)
  }

  protected override render () {
    const store = this.#fleet.store
    const total = store?.ids.length ?? 0
    const rows = this.#rows
    const loading = store ? !store.progress.done : true
    return html`
      <div class="toolbar">
        <input type="search" placeholder="Filter by name, ID, tag, EID or IMEI" aria-label="Filter devices" @input=${this.#onQuery}>
        <select aria-label="Status" @change=${this.#onStatus}>
          <option value="all">All statuses</option>
          <option value="online">Online</option>
          <option value="offline">Offline</option>
        </select>
        <span class="count">${rows.length === total ? `${formatCount(total)} devices` : `${formatCount(rows.length)} of ${formatCount(total)} devices`}</span>
      </div>
      <div class="scroll" role="table" aria-label="Devices" aria-rowcount=${rows.length + 1}>
        <div class="header" role="row" aria-rowindex="1">
          ${headers.map((label, i) => html`<span role="columnheader" class=${i >= 4 && i <= 9 && i !== 7 ? 'num' : ''}>${label}</span>`)}
        </div>
        <div class="rows" role="rowgroup">
          ${virtualize({ items: rows as string[], renderItem: this.#renderRow, keyFunction: (id: string) => id })}
        </div>
        ${rows.length === 0
          ? html`<div class="empty">${loading ? 'Loading devices…' : total === 0 ? 'No devices yet.' : 'No device matches the filter.'}</div>`
          : null}
      </div>
    `
  }

  #renderRow = (id: string, index: number) => {
    const device = this.#fleet.store?.get(id)
    if (!device) return html``
    const t = device.latestTelemetry
    return html`
      <div class="row ${device.status}" role="row" aria-rowindex=${index + 2} data-device-id=${device.id} data-status=${device.status}>
        <span role="cell" data-col="name" title=${device.name}>${device.name}</span>
        <span role="cell" data-col="id" class="mono" title=${device.id}>${device.id}</span>
        <span role="cell" data-col="status" class="status"><span class="dot"></span>${device.status}</span>
        <span role="cell" data-col="lastSeen" title=${device.lastSeenAt ?? ''}>${formatTimestamp(device.lastSeenAt)}</span>
        <span role="cell" data-col="rsrp" class="num">${formatMetric(t?.rsrp, 'dBm')}</span>
        <span role="cell" data-col="rsrq" class="num">${formatMetric(t?.rsrq, 'dB', 1)}</span>
        <span role="cell" data-col="sinr" class="num">${formatMetric(t?.sinr, 'dB', 1)}</span>
        <span role="cell" data-col="rat">${formatText(t?.rat)}</span>
        <span role="cell" data-col="battery" class="num">${formatMetric(t?.battery, '%')}</span>
        <span role="cell" data-col="temperature" class="num">${formatMetric(t?.temperature, '°C', 1)}</span>
        <span role="cell" data-col="notifications" title=${notificationTitle(device)}>${notificationCell(device)}</span>
        <span role="cell" data-col="tags">${tagList(device)}</span>
      </div>
    `
  }

  #onQuery = (event: Event): void => {
    const value = (event.target as HTMLInputElement).value
    clearTimeout(this.#queryTimer)
    this.#queryTimer = setTimeout(() => { this.query = value.trim().toLowerCase() }, 150)
  }

  #onStatus = (event: Event): void => {
    this.statusFilter = (event.target as HTMLSelectElement).value as StatusFilter
  }
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
  if (last.status === 'rejected') return `rejected: ${last.reason ?? 'unknown'}`
  const operation = last.operation ?? 'notification'
  return last.seqNumber === null ? operation : `${operation} #${last.seqNumber}`
}

function notificationTitle (device: Device): string {
  const counts = device.notificationCounts ?? { accepted: 0, rejected: 0 }
  const last = device.lastNotification
  const summary = `${counts.accepted} accepted, ${counts.rejected} rejected`
  return last ? `${summary}; last: ${describeNotification(last)} at ${last.receivedAt}` : summary
}

function tagList (device: Device) {
  return device.tags.map(tag => html`<span class="tag">${tag}</span>`)
}

function filterIds (store: FleetStore, query: string, status: StatusFilter): readonly string[] {
  if (!query && status === 'all') return store.ids
  const out: string[] = []
  for (const id of store.ids) {
    const device = store.get(id)
    if (!device) continue
    if (status !== 'all' && device.status !== status) continue
    if (query && !matches(device, query)) continue
    out.push(id)
  }
  return out
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
