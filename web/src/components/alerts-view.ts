import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext, fleetContext, routerContext } from '../data/context.ts'
import { alertSeverities, alertStates, type Alert } from '../data/console-types.ts'
import type { EventStream } from '../data/event-stream.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { SourceController } from '../data/source-controller.ts'
import type { HubEvent } from '../data/types.ts'
import { LocaleController, t, type MessageKey } from '../i18n/index.ts'
import { devicePath, type Router } from '../router.ts'
import './alert-rules-panel.ts'
import { cardTableStyles, severityClass } from './alert-table-styles.ts'
import { formatDateTime, formatMetric, formatRelative } from './format.ts'
import { viewStyles } from './shared-styles.ts'

interface Filter { state: string, severity: string, device: string }
const resolutions = new Set(['cleared', 'device-deleted', 'rule-changed', 'rule-disabled', 'rule-deleted'])

/**
 * Alerts (GET /api/alerts) by state, severity and device, newest first, live from `alert.raised`,
 * `alert.acknowledged` and `alert.resolved`; acknowledge (admins, operators, technicians). Below, the
 * tenant's alert rules (alert-rules-panel).
 */
@customElement('alerts-view')
export class AlertsView extends LitElement {
  static override styles = [viewStyles, cardTableStyles, css`
    .tabs { display: flex; flex-wrap: wrap; gap: 0.25rem; }
    .tabs button[aria-pressed=true] { background: var(--hub-accent); border-color: var(--hub-accent); color: var(--hub-accent-fg); }
    .tabs button::first-letter { text-transform: uppercase; }
    .toolbar label.field { min-width: 9rem; }
    td.when { white-space: nowrap; }
    .kind { display: block; font-size: 0.8rem; }
  `]

  /** The signed-in user's role: technicians and up acknowledge, admins and operators write rules. */
  @property() role = 'viewer'
  @consume({ context: apiContext }) api!: ApiClient
  @consume({ context: routerContext }) router!: Router
  @consume({ context: eventStreamContext, subscribe: true }) stream: EventStream | undefined
  @consume({ context: fleetContext, subscribe: true }) fleet: FleetStore | undefined

  @state() private alerts: Alert[] = []
  @state() private next: string | null = null
  @state() private filter: Filter = readFilter()
  @state() private error = ''
  @state() private loaded = false

  protected readonly i18n = new LocaleController(this)
  // device names from the live fleet
  readonly #fleet = new FleetController(this, () => this.fleet)
  #loading = 0
  #clock: ReturnType<typeof setInterval> | undefined

  constructor () {
    super()
    new SourceController<EventStream>(this, () => this.stream, stream => stream.subscribe(event => this.#onEvent(event))) // eslint-disable-line no-new
  }

  override connectedCallback (): void {
    super.connectedCallback()
    this.#load()
    // relative times ("3 min ago") move on
    this.#clock = setInterval(() => this.requestUpdate(), 30_000)
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    clearInterval(this.#clock)
  }

  #load (more = false): void {
    const token = ++this.#loading
    const { state, severity, device } = this.filter
    const query = { state, severity, deviceId: device, limit: 100, cursor: more ? this.next : null }
    this.api.request<{ items: Alert[], nextCursor: string | null }>('GET', '/api/alerts', { query }).then(answer => {
      if (token !== this.#loading) return
      this.alerts = more ? [...this.alerts, ...answer.items] : answer.items
      this.next = answer.nextCursor
      this.loaded = true
      this.error = ''
    }, err => {
      if (token !== this.#loading) return
      this.error = err instanceof ApiError ? err.message : t('error.loading')
      this.loaded = true
    })
  }

  #onEvent (event: HubEvent): void {
    if (event.type === 'resync') return this.#load()
    if (event.type !== 'alert.raised' && event.type !== 'alert.acknowledged' && event.type !== 'alert.resolved') return
    const alert = event.data
    if (this.alerts.some(a => a.id === alert.id)) {
      // kept in place with its new state (it leaves the "open" list at the next load)
      this.alerts = this.alerts.map(a => a.id === alert.id ? alert : a)
    } else if (matches(alert, this.filter)) {
      this.alerts = [alert, ...this.alerts]
    }
  }

  #setFilter (change: Partial<Filter>): void {
    this.filter = { ...this.filter, ...change }
    const { state, severity, device } = this.filter
    const params = new URLSearchParams()
    if (state !== 'open') params.set('state', state || 'all')
    if (severity) params.set('severity', severity)
    if (device) params.set('device', device)
    this.router.replaceQuery(params)
    this.#load()
  }

  protected override render () {
    const writer = this.role === 'admin' || this.role === 'operator'
    const acknowledger = writer || this.role === 'technician'
    const tab = (state: string, label: string) => html`<button type="button" data-tab=${state || 'all'} aria-pressed=${this.filter.state === state ? 'true' : 'false'} @click=${() => this.#setFilter({ state })}>${label}</button>`
    return html`
      <h2>${t('nav.alerts')}</h2>
      <div class="toolbar">
        <div class="tabs" role="group" aria-label=${t('alerts.state')}>
          ${alertStates.map(state => tab(state, t(`alertState.${state}`)))}${tab('', t('alerts.all'))}
        </div>
        <label class="field">${t('alerts.severity')}<select name="severity" @change=${(e: Event) => this.#setFilter({ severity: (e.target as HTMLSelectElement).value })}>
          <option value="">${t('alerts.anySeverity')}</option>
          ${alertSeverities.map(s => html`<option value=${s} ?selected=${this.filter.severity === s}>${t(`severity.${s}`)}</option>`)}</select></label>
        <label class="field">${t('device.id')}<input name="device" class="mono" .value=${this.filter.device} maxlength="128"
          @change=${(e: Event) => this.#setFilter({ device: (e.target as HTMLInputElement).value.trim() })}></label>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      <section class="panel">
        ${this.loaded && this.alerts.length === 0 ? html`<p class="muted" data-no-alerts>${t('alerts.none')}</p>` : null}
        ${this.alerts.length ? this.#renderAlerts(acknowledger) : null}
        ${this.next ? html`<button type="button" @click=${() => this.#load(true)}>${t('alerts.more')}</button>` : null}
      </section>
      <alert-rules-panel .writer=${writer}></alert-rules-panel>
    `
  }

  #renderAlerts (acknowledger: boolean) {
    const when = (label: string, iso: string | null) => html`<td class="when" data-label=${label}>${iso ? html`<time datetime=${iso} title=${formatDateTime(iso)}>${formatRelative(iso)}</time>` : '—'}</td>`
    const cols = [t('alerts.severity'), t('alerts.rule'), t('alerts.device'), t('alerts.value'), t('alerts.state'), t('alerts.raised'), t('alerts.acknowledged'), t('alerts.resolved')]
    return html`<div class="table-wrap"><table class="cards" aria-label=${t('nav.alerts')}>
      <thead><tr>${cols.map(c => html`<th>${c}</th>`)}<th></th></tr></thead>
      <tbody>${this.alerts.map(a => html`<tr data-alert=${a.id} data-alert-state=${a.state}>
        <td data-label=${cols[0]}><span class="badge ${severityClass[a.severity]}">${t(`severity.${a.severity}`)}</span></td>
        <td data-label=${cols[1]}>${a.ruleName}<span class="kind muted">${t(`alertKind.${a.kind}`)}</span></td>
        <td data-label=${cols[2]}><a href=${devicePath(a.deviceId)}>${this.#fleet.store?.get(a.deviceId)?.name ?? a.deviceId}</a></td>
        <td data-label=${cols[3]}>${alertValue(a)}</td>
        <td data-label=${cols[4]}><span class="badge ${a.state === 'open' ? 'bad' : a.state === 'resolved' ? 'good' : ''}" data-state>${t(`alertState.${a.state}`)}</span>
          ${a.resolution ? html`<span class="kind muted">${resolutions.has(a.resolution) ? t(`resolution.${a.resolution}` as MessageKey) : a.resolution}</span>` : null}</td>
        ${when(cols[5], a.raisedAt)}${when(cols[6], a.acknowledgedAt)}${when(cols[7], a.resolvedAt)}
        <td class="actions">${acknowledger && a.state === 'open' ? html`<button type="button" data-ack @click=${() => this.#acknowledge(a)}>${t('alerts.acknowledge')}</button>` : null}</td>
      </tr>`)}</tbody></table></div>`
  }

  async #acknowledge (alert: Alert): Promise<void> {
    this.error = ''
    try {
      const updated = await this.api.request<Alert>('POST', `/api/alerts/${alert.id}/acknowledge`)
      this.alerts = this.alerts.map(a => a.id === updated.id ? updated : a)
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : t('error.request')
    }
  }
}

/** The filter in the URL: `?state=` (open by default, `all` for every state), `severity=`, `device=`. */
function readFilter (): Filter {
  const params = new URLSearchParams(location.search)
  const state = params.get('state') ?? ''
  return {
    state: state === 'all' ? '' : (alertStates as readonly string[]).includes(state) ? state : 'open',
    severity: params.get('severity') ?? '',
    device: params.get('device') ?? ''
  }
}

function matches (alert: Alert, filter: Filter): boolean {
  return (!filter.state || alert.state === filter.state) && (!filter.severity || alert.severity === filter.severity) && (!filter.device || alert.deviceId === filter.device)
}

/** What the device showed: the metric's value, seconds offline, the percent of its plan. */
function alertValue (alert: Alert): string {
  if (alert.value === null) return '—'
  if (alert.kind === 'data-usage') return formatMetric(alert.value, '%', 1)
  if (alert.kind === 'offline') return formatMetric(alert.value, 's')
  return formatMetric(alert.value, '', 2)
}

declare global {
  interface HTMLElementTagNameMap {
    'alerts-view': AlertsView
  }
}
