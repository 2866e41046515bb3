import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext } from '../data/context.ts'
import type { Campaign, CommandOp, Operator } from '../data/console-types.ts'
import type { EventStream } from '../data/event-stream.ts'
import { listOperators } from '../data/operator-filter.ts'
import { SourceController } from '../data/source-controller.ts'
import type { HubEvent } from '../data/types.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { confirmAction } from './confirm-dialog.ts'
import { formatCount, formatDateTime } from './format.ts'
import { viewStyles } from './shared-styles.ts'

const campaignOps: CommandOp[] = ['enable', 'disable', 'delete', 'download', 'listProfiles']

/** Campaigns: an operation over a filtered set of devices at a rate, with a stop-on-failure threshold;
 * progress live from `campaign.updated`, pause, resume and cancel. */
@customElement('campaigns-view')
export class CampaignsView extends LitElement {
  static override styles = [viewStyles, css`
    .campaign { display: grid; gap: 0.4rem; }
    .campaign header { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; }
    .campaign h3 { margin: 0; }
    .counts { font-size: 0.8rem; color: var(--hub-muted); display: flex; flex-wrap: wrap; gap: 0.25rem 0.9rem; }
    .actions { display: flex; gap: 0.4rem; margin-left: auto; }
    .progress { height: 0.75rem; }
    details summary { cursor: pointer; font-weight: 600; margin-bottom: 0.5rem; }
  `]

  /** The signed-in user's role: admins and operators create and steer campaigns. */
  @property() role = 'viewer'
  @consume({ context: apiContext }) api!: ApiClient
  @consume({ context: eventStreamContext, subscribe: true }) stream: EventStream | undefined

  @state() private campaigns: Campaign[] = []
  @state() private operators: Operator[] = []
  @state() private op: CommandOp = 'enable'
  @state() private error = ''
  @state() private loaded = false

  protected readonly i18n = new LocaleController(this)

  constructor () {
    super()
    new SourceController<EventStream>(this, () => this.stream, stream => stream.subscribe(event => this.#onEvent(event))) // eslint-disable-line no-new
  }

  override connectedCallback (): void {
    super.connectedCallback()
    this.#load()
    listOperators(this.api).then(items => { this.operators = items }, () => {})
  }

  #load (): void {
    this.api.request<{ items: Campaign[] }>('GET', '/api/campaigns', { query: { limit: 50 } }).then(answer => {
      this.campaigns = answer.items
      this.loaded = true
    }, err => {
      this.error = err instanceof ApiError ? err.message : t('error.loading')
      this.loaded = true
    })
  }

  #onEvent (event: HubEvent): void {
    if (event.type === 'resync') return this.#load()
    if (event.type !== 'campaign.updated') return
    const update = event.data
    const known = this.campaigns.some(c => c.id === update.id)
    if (!known) return this.#load()
    this.campaigns = this.campaigns.map(c => c.id === update.id ? { ...c, ...update } : c)
  }

  protected override render () {
    const operator = this.role === 'admin' || this.role === 'operator'
    return html`
      <h2>${t('nav.campaigns')}</h2>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${operator ? this.#renderCreate() : null}
      ${this.loaded && this.campaigns.length === 0 ? html`<p class="muted">${t('campaigns.none')}</p>` : null}
      ${this.campaigns.map(c => this.#renderCampaign(c, operator))}
    `
  }

  #renderCreate () {
    const needsIccid = this.op === 'enable' || this.op === 'disable' || this.op === 'delete'
    return html`
      <details class="panel">
        <summary>${t('campaigns.new')}</summary>
        <form class="inline" @submit=${this.#create}>
          <label class="field">${t('campaigns.name')}<input name="name" required maxlength="200"></label>
          <label class="field">${t('commands.op')}<select name="op" @change=${(e: Event) => { this.op = (e.target as HTMLSelectElement).value as CommandOp }}>
            ${campaignOps.map(op => html`<option value=${op} ?selected=${op === this.op}>${t(`op.${op}`)}</option>`)}</select></label>
          ${needsIccid ? html`<label class="field">ICCID<input name="iccid" required pattern="[0-9]{18,20}F?" inputmode="numeric"></label>` : null}
          ${this.op === 'download' ? html`<label class="field">${t('ops.activationCode')}<input name="activationCode" required maxlength="512"></label>` : null}
          <label class="field">${t('campaigns.tags')}<input name="tags" placeholder="north, pumps"></label>
          <label class="field">${t('fleet.operator')}<select name="operator"><option value="">${t('fleet.allOperators')}</option>
            ${this.operators.map(o => html`<option value=${o.id}>${o.name}</option>`)}</select></label>
          <label class="field">${t('col.site')}<input name="site" maxlength="64" placeholder="yard-7"></label>
          <label class="field">${t('campaigns.rate')}<input name="rate" type="number" min="1" max="600000" value="60"></label>
          <label class="field">${t('campaigns.threshold')}<input name="threshold" type="number" min="1" max="100000" value="10"></label>
          <button type="submit" class="primary">${t('campaigns.start')}</button>
        </form>
        <p class="muted">${t('campaigns.filterHint')}</p>
      </details>`
  }

  #renderCampaign (c: Campaign, operator: boolean) {
    const p = c.progress
    const total = Math.max(c.total, 1)
    const done = p.succeeded
    const failed = p.failed + p.expired + p.cancelled
    const active = p.queued + p.sent
    const pct = (n: number) => `${(n / total) * 100}%`
    const bar = (cls: string, n: number) => html`<span class=${cls} data-width=${pct(n)}></span>`
    return html`
      <section class="panel campaign" data-campaign=${c.id} data-campaign-status=${c.status}>
        <header>
          <h3>${c.name}</h3>
          <span class="badge ${c.status === 'running' ? 'good' : c.status === 'paused' ? 'warn' : ''}">${t(`campaignStatus.${c.status}`)}</span>
          <span class="muted">${t(`op.${c.op as CommandOp}`)}${c.iccid ? ` · ${c.iccid}` : ''} · ${t('campaigns.rateOf', { rate: c.ratePerMinute })}</span>
          ${operator && (c.status === 'running' || c.status === 'paused')
            ? html`<span class="actions">
              ${c.status === 'running'
                ? html`<button type="button" data-action="pause" @click=${() => this.#steer(c, 'pause')}>${t('campaigns.pause')}</button>`
                : html`<button type="button" data-action="resume" @click=${() => this.#steer(c, 'resume')}>${t('campaigns.resume')}</button>`}
              <button type="button" class="danger" data-action="cancel" @click=${() => this.#steer(c, 'cancel')}>${t('campaigns.cancel')}</button></span>`
            : null}
        </header>
        <div class="progress" role="progressbar" aria-label=${t('campaigns.progress')} aria-valuemin="0" aria-valuemax=${c.total} aria-valuenow=${done + failed}>
          ${bar('done', done)}${bar('failed', failed)}${bar('active', active)}
        </div>
        <div class="counts" data-counts>
          <span>${t('campaigns.doneOf', { done: done + failed, total: c.total })}</span>
          <span>${t('commandStatus.succeeded')}: ${formatCount(p.succeeded)}</span>
          <span>${t('commandStatus.failed')}: ${formatCount(p.failed)}</span>
          <span>${t('commandStatus.expired')}: ${formatCount(p.expired)}</span>
          <span>${t('campaigns.inFlight')}: ${formatCount(active)}</span>
          <span>${t('campaigns.pending')}: ${formatCount(p.pending)}</span>
          ${c.pausedReason ? html`<span class="error">${c.pausedReason}</span>` : null}
          <span>${formatDateTime(c.createdAt)}</span>
        </div>
      </section>`
  }

  protected override updated (): void {
    // widths through the CSSOM: the page's CSP allows no inline style attributes
    for (const span of this.renderRoot.querySelectorAll<HTMLElement>('.progress > span[data-width]')) {
      span.style.width = span.dataset.width ?? '0'
    }
  }

  #create = (event: SubmitEvent): void => {
    event.preventDefault()
    const formElement = event.currentTarget as HTMLFormElement
    const form = new FormData(formElement)
    const tags = String(form.get('tags') ?? '').split(',').map(s => s.trim()).filter(Boolean)
    const operator = String(form.get('operator') ?? '')
    const site = String(form.get('site') ?? '').trim()
    const filter: Record<string, unknown> = {}
    if (tags.length) filter.tags = tags
    if (operator) filter.operator = operator
    if (site) filter.site = site
    if (Object.keys(filter).length === 0) {
      this.error = t('campaigns.needFilter')
      return
    }
    const body: Record<string, unknown> = {
      name: form.get('name'),
      op: this.op,
      filter,
      ratePerMinute: Number(form.get('rate')) || 60,
      failureThreshold: Number(form.get('threshold')) || 10
    }
    if (form.get('iccid')) body.iccid = form.get('iccid')
    if (form.get('activationCode')) body.activationCode = form.get('activationCode')
    this.error = ''
    this.api.request<Campaign>('POST', '/api/campaigns', { body }).then(created => {
      formElement.reset()
      this.campaigns = [created, ...this.campaigns.filter(c => c.id !== created.id)]
    }, err => { this.error = err instanceof ApiError ? err.message : t('error.request') })
  }

  async #steer (c: Campaign, action: 'pause' | 'resume' | 'cancel'): Promise<void> {
    if (action === 'cancel' && !await confirmAction(t('campaigns.confirmCancel', { name: c.name }), t('campaigns.cancel'))) return
    this.error = ''
    try {
      const updated = await this.api.request<Campaign>('POST', `/api/campaigns/${c.id}/${action}`)
      this.campaigns = this.campaigns.map(x => x.id === updated.id ? updated : x)
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : t('error.request')
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'campaigns-view': CampaignsView
  }
}
