import { LitElement, html } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext } from '../data/context.ts'
import { webhookEvents, type Webhook, type WebhookDelivery } from '../data/console-types.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { confirmAction } from './confirm-dialog.ts'
import { cardTableStyles } from './alert-table-styles.ts'
import { formatDateTime } from './format.ts'
import { viewStyles } from './shared-styles.ts'

/** How often the delivery log that is open is read again (deliveries change on the hub's own time). */
const LOG_REFRESH_MS = 3000

/** Webhooks (/admin/webhooks, admins): list, add (the signing secret shown once), switch on and off,
 * delete after a confirmation, and the delivery log of one, read again every few seconds while open. */
@customElement('webhooks-page')
export class WebhooksPage extends LitElement {
  static override styles = [viewStyles, cardTableStyles]

  @consume({ context: apiContext }) api!: ApiClient

  @state() private hooks: Webhook[] = []
  @state() private secret = ''
  @state() private error = ''
  @state() private open: Webhook | null = null
  @state() private log: WebhookDelivery[] | null = null

  protected readonly i18n = new LocaleController(this)
  #timer: ReturnType<typeof setInterval> | undefined

  override connectedCallback (): void {
    super.connectedCallback()
    this.#act(async () => {})
    this.#timer = setInterval(() => { if (this.open) this.#readLog(this.open) }, LOG_REFRESH_MS)
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    clearInterval(this.#timer)
  }

  /** Runs `work`, then reads the list again; an API error is shown. */
  async #act (work: () => Promise<unknown>): Promise<void> {
    this.error = ''
    try {
      await work()
      this.hooks = (await this.api.request<{ items: Webhook[] }>('GET', '/api/webhooks')).items
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : t('error.request')
    }
  }

  #readLog (hook: Webhook): void {
    this.api.request<{ items: WebhookDelivery[] }>('GET', `/api/webhooks/${hook.id}/deliveries`).then(answer => {
      if (this.open?.id === hook.id) this.log = answer.items
    }, () => {})
  }

  #create = (event: SubmitEvent): void => {
    event.preventDefault()
    const formElement = event.currentTarget as HTMLFormElement
    const form = new FormData(formElement)
    this.#act(async () => {
      this.secret = (await this.api.request<{ secret: string }>('POST', '/api/webhooks', { body: { url: String(form.get('url')).trim(), events: form.getAll('events') } })).secret
      formElement.reset()
    })
  }

  async #delete (hook: Webhook): Promise<void> {
    if (!await confirmAction(t('webhooks.confirmDelete', { url: hook.url }), t('ops.delete'))) return
    if (this.open?.id === hook.id) this.open = null
    await this.#act(() => this.api.request('DELETE', `/api/webhooks/${hook.id}`))
  }

  #show (hook: Webhook): void {
    this.open = this.open?.id === hook.id ? null : hook
    this.log = null
    if (this.open) this.#readLog(hook)
  }

  protected override render () {
    const open = this.open
    const hookCols = [t('webhooks.url'), t('webhooks.events'), t('webhooks.enabled'), t('admin.created')]
    const logCols = [t('audit.time'), t('webhooks.event'), t('admin.state'), t('webhooks.attempts'), t('webhooks.answer')]
    return html`
      <p class="muted">${t('webhooks.help')}</p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      <form class="inline" @submit=${this.#create}>
        <label class="field">${t('webhooks.url')}<input name="url" type="url" required maxlength="2048" placeholder="https://"></label>
        <fieldset class="field"><legend>${t('webhooks.events')}</legend>
          ${webhookEvents.map(e => html`<label><input type="checkbox" name="events" value=${e} checked> ${e}</label> `)}</fieldset>
        <button type="submit" class="primary">${t('webhooks.add')}</button>
      </form>
      ${this.secret
? html`<p class="notice" role="status" data-webhook-secret>${t('webhooks.secretOnce')} <span class="secret">${this.secret}</span>
        <button type="button" @click=${() => { this.secret = '' }}>${t('ops.hideSecret')}</button></p>`
: null}
      <div class="table-wrap"><table class="cards"><thead><tr>${hookCols.map(c => html`<th>${c}</th>`)}<th></th></tr></thead><tbody>
        ${this.hooks.map(h => html`<tr data-webhook=${h.url}>
          <td class="mono wrap" data-label=${hookCols[0]}>${h.url}</td><td data-label=${hookCols[1]}>${h.events.join(', ')}</td>
          <td data-label=${hookCols[2]}><input type="checkbox" aria-label=${t('webhooks.enabledOf', { url: h.url })} .checked=${h.enabled}
            @change=${(e: Event) => this.#act(() => this.api.request('PATCH', `/api/webhooks/${h.id}`, { body: { enabled: (e.target as HTMLInputElement).checked } }))}></td>
          <td data-label=${hookCols[3]}>${formatDateTime(h.createdAt)}</td>
          <td class="actions"><button type="button" data-log aria-expanded=${open?.id === h.id} @click=${() => this.#show(h)}>${t('webhooks.log')}</button>
            <button type="button" class="danger" data-delete @click=${() => this.#delete(h)}>${t('ops.delete')}</button></td>
        </tr>`)}
      </tbody></table></div>
      ${this.hooks.length === 0 ? html`<p class="muted">${t('webhooks.none')}</p>` : null}
      ${open
? html`<section class="panel" data-deliveries aria-live="polite"><h3>${t('webhooks.logOf', { url: open.url })}</h3>
        ${this.log?.length === 0
? html`<p class="muted">${t('webhooks.noDeliveries')}</p>`
: html`<div class="table-wrap"><table class="cards">
          <thead><tr>${logCols.map(c => html`<th>${c}</th>`)}</tr></thead>
          <tbody>${(this.log ?? []).map(d => html`<tr data-delivery=${d.status}><td data-label=${logCols[0]}>${formatDateTime(d.createdAt)}</td><td class="mono" data-label=${logCols[1]}>${d.eventType}</td>
            <td data-label=${logCols[2]}><span class="badge ${d.status === 'delivered' ? 'good' : d.status === 'failed' ? 'bad' : ''}">${t(`delivery.${d.status}`)}</span></td>
            <td data-label=${logCols[3]}>${d.attempts}</td><td class="wrap" data-label=${logCols[4]}>${d.lastStatus ?? ''} ${d.lastError ?? ''}</td></tr>`)}</tbody></table></div>`}</section>`
: null}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'webhooks-page': WebhooksPage
  }
}
