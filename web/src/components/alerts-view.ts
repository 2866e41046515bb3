import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { keyed } from 'lit/directives/keyed.js'
import { live } from 'lit/directives/live.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext, fleetContext, routerContext } from '../data/context.ts'
import { alertKinds, alertMetrics, alertSeverities, alertStates, type Alert, type AlertKind, type AlertRule, type Operator } from '../data/console-types.ts'
import type { EventStream } from '../data/event-stream.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { listOperators } from '../data/operator-filter.ts'
import { SourceController } from '../data/source-controller.ts'
import type { HubEvent } from '../data/types.ts'
import { LocaleController, t, type MessageKey } from '../i18n/index.ts'
import { devicePath, type Router } from '../router.ts'
import { confirmAction } from './confirm-dialog.ts'
import { formatDateTime, formatMetric, formatRelative } from './format.ts'
import { viewStyles } from './shared-styles.ts'

interface Filter { state: string, severity: string, device: string }
const resolutions = new Set(['cleared', 'device-deleted', 'rule-changed', 'rule-disabled', 'rule-deleted'])
const severityClass: Record<string, string> = { critical: 'bad', warning: 'warn', info: '' }

/**
 * Alerts (GET /api/alerts) by state, severity and device, newest first, live from `alert.raised`,
 * `alert.acknowledged` and `alert.resolved`; acknowledge (admins, operators, technicians). Below, the
 * tenant's alert rules, which admins and operators create, edit, switch off and delete.
 */
@customElement('alerts-view')
export class AlertsView extends LitElement {
  static override styles = [viewStyles, css`
    .tabs { display: flex; flex-wrap: wrap; gap: 0.25rem; }
    .tabs button[aria-pressed=true] { background: var(--hub-accent); border-color: var(--hub-accent); color: var(--hub-accent-fg); }
    .tabs button::first-letter { text-transform: uppercase; }
    .toolbar label.field { min-width: 9rem; }
    td.when { white-space: nowrap; }
    td.actions { white-space: nowrap; text-align: right; }
    td.actions button { padding: 0.15rem 0.5rem; font-size: 0.8rem; }
    .kind { display: block; font-size: 0.8rem; }
    details { margin-bottom: 0.75rem; }
    details summary { cursor: pointer; font-weight: 600; margin-bottom: 0.5rem; }
    @media (max-width: 40rem) {
      /* a card per row: each cell on a line of its own, after its column's name */
      .cards thead { display: none; }
      .cards tr { display: block; padding: 0.4rem 0; border-bottom: 1px solid var(--hub-row-border); }
      .cards td { display: block; position: relative; padding: 0.15rem 0 0.15rem 8.5rem; border: 0; min-height: 1.3rem; }
      .cards td::before { content: attr(data-label); position: absolute; left: 0; width: 8rem; color: var(--hub-muted); font-size: 0.8rem; overflow-wrap: anywhere; }
      .cards td.actions { text-align: left; }
    }
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
  @state() private rules: AlertRule[] = []
  @state() private operators: Operator[] = []
  @state() private editing: AlertRule | null = null
  @state() private kind: AlertKind = 'metric'
  @state() private error = ''
  @state() private ruleError = ''
  @state() private loaded = false

  protected readonly i18n = new LocaleController(this)
  // device names from the live fleet
  readonly #fleet = new FleetController(this, () => this.fleet)
  #loading = 0
  /** Bumped to render a fresh form (its fields' defaults from the rule edited). */
  #form = 0
  #clock: ReturnType<typeof setInterval> | undefined

  constructor () {
    super()
    new SourceController<EventStream>(this, () => this.stream, stream => stream.subscribe(event => this.#onEvent(event))) // eslint-disable-line no-new
  }

  override connectedCallback (): void {
    super.connectedCallback()
    this.#load()
    this.#loadRules()
    listOperators(this.api).then(items => { this.operators = items }, () => {})
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

  #loadRules (): void {
    this.api.request<{ items: AlertRule[] }>('GET', '/api/alert-rules').then(answer => { this.rules = answer.items }, () => {})
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
      ${this.#renderRules(writer)}
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

  #renderRules (writer: boolean) {
    return html`
      <section class="panel" data-rules>
        <h3>${t('rules.title')}</h3>
        ${this.ruleError ? html`<p class="error" role="alert">${this.ruleError}</p>` : null}
        ${writer ? this.#renderRuleForm() : null}
        ${this.rules.length === 0
          ? html`<p class="muted">${t('rules.none')}</p>`
          : html`<div class="table-wrap"><table class="cards">
            <thead><tr><th>${t('rules.name')}</th><th>${t('rules.condition')}</th><th>${t('alerts.severity')}</th><th>${t('rules.filter')}</th><th>${t('rules.enabled')}</th><th></th></tr></thead>
            <tbody>${this.rules.map(r => html`<tr data-rule=${r.id}>
              <td data-label=${t('rules.name')}>${r.name}</td>
              <td data-label=${t('rules.condition')}>${this.#condition(r)}</td>
              <td data-label=${t('alerts.severity')}><span class="badge ${severityClass[r.severity]}">${t(`severity.${r.severity}`)}</span></td>
              <td data-label=${t('rules.filter')}>${this.#filterText(r)}</td>
              <td data-label=${t('rules.enabled')}>${writer
                ? html`<input type="checkbox" aria-label=${t('rules.enabledOf', { name: r.name })} .checked=${live(r.enabled)} @change=${(e: Event) => this.#saveRule(r, { enabled: (e.target as HTMLInputElement).checked })}>`
                : r.enabled ? t('admin.on') : t('admin.off')}</td>
              <td class="actions">${writer
                ? html`<button type="button" data-edit @click=${() => this.#edit(r)}>${t('rules.edit')}</button>
                  <button type="button" class="danger" data-delete @click=${() => this.#deleteRule(r)}>${t('ops.delete')}</button>`
                : null}</td>
            </tr>`)}</tbody></table></div>`}
      </section>`
  }

  /** Fills the form with a rule (null: an empty form for a new one). */
  #edit (rule: AlertRule | null): void {
    this.editing = rule
    this.kind = rule?.kind ?? 'metric'
    this.#form++
  }

  #renderRuleForm () {
    const r = this.editing
    const kind = this.kind
    const num = (name: string, label: string, value: number | null | undefined, attrs: { min: number, max: number, step?: string }) =>
      html`<label class="field">${label}<input name=${name} type="number" required min=${attrs.min} max=${attrs.max} step=${attrs.step ?? '1'} value=${value ?? ''}></label>`
    return html`
      <details ?open=${r !== null}>
        <summary>${r ? t('rules.editing', { name: r.name }) : t('rules.new')}</summary>
        ${keyed(this.#form, html`<form class="inline" @submit=${this.#submitRule}>
          <label class="field">${t('rules.name')}<input name="name" required maxlength="200" value=${r?.name ?? ''}></label>
          <label class="field">${t('rules.kind')}<select name="kind" @change=${(e: Event) => { this.kind = (e.target as HTMLSelectElement).value as AlertKind }}>
            ${alertKinds.map(k => html`<option value=${k} ?selected=${k === kind}>${t(`alertKind.${k}`)}</option>`)}</select></label>
          ${kind === 'metric'
            ? html`<label class="field">${t('rules.metric')}<select name="metric">${alertMetrics.map(m => html`<option value=${m} ?selected=${m === (r?.metric ?? 'rsrp')}>${m}</option>`)}</select></label>
              <label class="field">${t('rules.op')}<select name="op"><option value="<" ?selected=${r?.op !== '>'}>${t('rules.below')}</option><option value=">" ?selected=${r?.op === '>'}>${t('rules.above')}</option></select></label>
              ${num('threshold', t('rules.threshold'), r?.threshold, { min: -1e15, max: 1e15, step: 'any' })}`
            : null}
          ${kind === 'data-usage' ? num('threshold', t('rules.percent'), r?.threshold ?? 80, { min: 0.1, max: 1000, step: 'any' }) : null}
          ${kind === 'metric' || kind === 'offline' ? num('forSeconds', t('rules.forSeconds'), r?.forSeconds ?? (kind === 'offline' ? 300 : 0), { min: 0, max: 2_592_000 }) : null}
          <label class="field">${t('alerts.severity')}<select name="severity">
            ${alertSeverities.map(s => html`<option value=${s} ?selected=${s === (r?.severity ?? 'warning')}>${t(`severity.${s}`)}</option>`)}</select></label>
          <label class="field">${t('rules.tag')}<input name="tag" maxlength="64" value=${r?.filter.tag ?? ''}></label>
          <label class="field">${t('fleet.operator')}<select name="operator"><option value="">${t('fleet.allOperators')}</option>
            ${this.operators.map(o => html`<option value=${o.id} ?selected=${o.id === r?.filter.operator}>${o.name}</option>`)}</select></label>
          <label class="field">${t('col.site')}<input name="site" maxlength="64" value=${r?.filter.site ?? ''}></label>
          <button type="submit" class="primary">${r ? t('rules.save') : t('rules.create')}</button>
          ${r ? html`<button type="button" @click=${() => this.#edit(null)}>${t('confirm.cancel')}</button>` : null}
        </form>`)}
      </details>`
  }

  #condition (r: AlertRule): string {
    const seconds = r.forSeconds
    switch (r.kind) {
      case 'metric': return `${r.metric ?? ''} ${r.op ?? ''} ${formatMetric(r.threshold, '', 2)}` + (seconds ? ` · ${t('rules.for', { seconds })}` : '')
      case 'offline': return t('rules.offlineFor', { seconds })
      case 'data-usage': return t('rules.usageOver', { percent: r.threshold ?? 0 })
      default: return t(`alertKind.${r.kind}`)
    }
  }

  #filterText (r: AlertRule): string {
    const f = r.filter
    const parts = [f.tag, f.operator ? this.operators.find(o => o.id === f.operator)?.name ?? f.operator : undefined, f.site].filter(Boolean)
    return parts.length ? parts.join(' · ') : t('rules.every')
  }

  #submitRule = (event: SubmitEvent): void => {
    event.preventDefault()
    const formElement = event.currentTarget as HTMLFormElement
    const form = new FormData(formElement)
    const text = (name: string) => String(form.get(name) ?? '').trim()
    const filter: AlertRule['filter'] = {}
    for (const key of ['tag', 'operator', 'site'] as const) if (text(key)) filter[key] = text(key)
    const kind = this.kind
    const body = {
      name: text('name'),
      kind,
      severity: text('severity'),
      filter,
      metric: kind === 'metric' ? text('metric') : null,
      op: kind === 'metric' ? text('op') : null,
      threshold: kind === 'metric' || kind === 'data-usage' ? Number(text('threshold')) : null,
      forSeconds: kind === 'metric' || kind === 'offline' ? Number(text('forSeconds')) : 0
    }
    const editing = this.editing
    this.#saveRule(editing, body).then(ok => {
      if (!ok) return
      if (editing) this.#edit(null)
      else formElement.reset()
    }, () => {})
  }

  /** Creates (no rule given) or patches a rule; true when the hub took it. */
  async #saveRule (rule: AlertRule | null, body: Record<string, unknown>): Promise<boolean> {
    this.ruleError = ''
    try {
      const saved = await this.api.request<AlertRule>(rule ? 'PATCH' : 'POST', rule ? `/api/alert-rules/${rule.id}` : '/api/alert-rules', { body })
      this.rules = rule ? this.rules.map(x => x.id === saved.id ? saved : x) : [...this.rules, saved]
      return true
    } catch (err) {
      this.ruleError = err instanceof ApiError ? err.message : t('error.request')
      this.#loadRules()
      return false
    }
  }

  async #deleteRule (rule: AlertRule): Promise<void> {
    if (!await confirmAction(t('rules.confirmDelete', { name: rule.name }), t('ops.delete'))) return
    this.ruleError = ''
    try {
      await this.api.request('DELETE', `/api/alert-rules/${rule.id}`)
      this.rules = this.rules.filter(x => x.id !== rule.id)
      if (this.editing?.id === rule.id) this.#edit(null)
    } catch (err) {
      this.ruleError = err instanceof ApiError ? err.message : t('error.request')
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
