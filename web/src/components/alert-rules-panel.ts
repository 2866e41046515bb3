import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { keyed } from 'lit/directives/keyed.js'
import { live } from 'lit/directives/live.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext } from '../data/context.ts'
import { alertKinds, alertMetrics, alertSeverities, type AlertKind, type AlertRule, type Operator } from '../data/console-types.ts'
import { listOperators } from '../data/operator-filter.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { cardTableStyles, severityClass } from './alert-table-styles.ts'
import { confirmAction } from './confirm-dialog.ts'
import { formatMetric } from './format.ts'
import { viewStyles } from './shared-styles.ts'

/**
 * The tenant's alert rules (GET /api/alert-rules), below the alerts: admins and operators create,
 * edit, switch off and delete them.
 */
@customElement('alert-rules-panel')
export class AlertRulesPanel extends LitElement {
  static override styles = [viewStyles, cardTableStyles, css`
    details { margin-bottom: 0.75rem; }
    details summary { cursor: pointer; font-weight: 600; margin-bottom: 0.5rem; }
  `]

  /** Whether the signed-in user writes rules (admins and operators). */
  @property({ type: Boolean }) writer = false
  @consume({ context: apiContext }) api!: ApiClient

  @state() private rules: AlertRule[] = []
  @state() private operators: Operator[] = []
  @state() private editing: AlertRule | null = null
  @state() private kind: AlertKind = 'metric'
  @state() private ruleError = ''

  protected readonly i18n = new LocaleController(this)
  /** Bumped to render a fresh form (its fields' defaults from the rule edited). */
  #form = 0

  override connectedCallback (): void {
    super.connectedCallback()
    this.#loadRules()
    listOperators(this.api).then(items => { this.operators = items }, () => {})
  }

  #loadRules (): void {
    this.api.request<{ items: AlertRule[] }>('GET', '/api/alert-rules').then(answer => { this.rules = answer.items }, () => {})
  }

  protected override render () {
    const writer = this.writer
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

declare global {
  interface HTMLElementTagNameMap {
    'alert-rules-panel': AlertRulesPanel
  }
}
