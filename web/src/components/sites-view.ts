import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { hasApi } from '../data/api-capabilities.ts'
import { apiContext, fleetContext } from '../data/context.ts'
import type { DeviceDetail, Gateway, GatewayCreated } from '../data/console-types.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { confirmAction } from './confirm-dialog.ts'
import { formatDateTime } from './format.ts'
import { viewStyles } from './shared-styles.ts'

interface SiteRow { site: string, gateways: Gateway[], devices: number, online: number }

/** Field sites: each with its gateways (GET /api/gateways) and how many of the fleet's devices are there;
 * admins and operators add a gateway (its secret shown once, with the lines of mosquitto.conf it fills)
 * and delete one. */
@customElement('sites-view')
export class SitesView extends LitElement {
  static override styles = [viewStyles, css`
    pre { font-family: var(--hub-mono); font-size: 0.8rem; background: var(--hub-surface); color: var(--hub-fg); border: 1px solid var(--hub-border); border-radius: var(--hub-radius); padding: 0.5rem; overflow-x: auto; white-space: pre; user-select: all; }
    dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.3rem 1rem; margin: 0.5rem 0; }
    dd { margin: 0; overflow-wrap: anywhere; }
    td.actions { text-align: right; }
    td.actions button { padding: 0.15rem 0.5rem; font-size: 0.8rem; }
  `]

  /** The signed-in user's role: admins and operators manage gateways. */
  @property() role = 'viewer'

  @consume({ context: apiContext }) api!: ApiClient
  @consume({ context: fleetContext, subscribe: true }) fleet: FleetStore | undefined

  @state() private gateways: Gateway[] = []
  @state() private error = ''
  @state() private loaded = false
  @state() private created: GatewayCreated | null = null

  protected readonly i18n = new LocaleController(this)
  readonly #fleet = new FleetController(this, () => this.fleet)
  #sites: SiteRow[] = []

  override connectedCallback (): void {
    super.connectedCallback()
    this.#load()
  }

  #load (): void {
    // sites come from the devices; gateways from GET /api/gateways where the hub has it
    hasApi('/api/gateways').then(has => has ? this.api.request<{ items: Gateway[] }>('GET', '/api/gateways') : { items: [] }).then(answer => {
      this.gateways = answer.items
      this.loaded = true
    }, err => {
      this.error = err instanceof ApiError ? err.message : t('error.loading')
      this.loaded = true
    })
  }

  protected override willUpdate (): void {
    const bySite = new Map<string, SiteRow>()
    const row = (site: string) => {
      let entry = bySite.get(site)
      if (!entry) bySite.set(site, entry = { site, gateways: [], devices: 0, online: 0 })
      return entry
    }
    for (const gateway of this.gateways) row(gateway.site).gateways.push(gateway)
    const store = this.#fleet.store
    if (store) {
      for (const id of store.ids) {
        const device = store.get(id) as DeviceDetail | undefined
        if (!device?.site) continue
        const entry = row(device.site)
        entry.devices++
        if (device.status === 'online') entry.online++
      }
    }
    this.#sites = [...bySite.values()].sort((a, b) => a.site.localeCompare(b.site))
  }

  protected override render () {
    const writer = this.role === 'admin' || this.role === 'operator'
    return html`
      <h2>${t('sites.title')}</h2>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${writer ? this.#renderCreate() : null}
      ${this.loaded && this.#sites.length === 0 ? html`<p class="muted">${t('sites.empty')}</p>` : null}
      ${this.#sites.map(site => html`
        <section class="panel" data-site=${site.site}>
          <h3>${site.site}</h3>
          <p class="muted">${t('sites.devices', { count: site.devices, online: site.online })}
            · <a href=${`/?site=${encodeURIComponent(site.site)}`}>${t('sites.showDevices')}</a></p>
          ${site.gateways.length === 0
            ? html`<p class="muted">${t('sites.noGateway')}</p>`
            : html`<div class="table-wrap"><table>
              <thead><tr><th>${t('sites.gateway')}</th><th>${t('sites.gatewayId')}</th><th>${t('sites.state')}</th><th>${t('sites.created')}</th>${writer ? html`<th></th>` : null}</tr></thead>
              <tbody>${site.gateways.map(g => html`<tr data-gateway=${g.id}>
                <td>${g.name}</td><td class="mono">${g.id}</td>
                <td>${g.disabled ? html`<span class="badge bad">${t('sites.disabled')}</span>` : html`<span class="badge good">${t('sites.enabled')}</span>`}</td>
                <td>${formatDateTime(g.createdAt)}</td>
                ${writer ? html`<td class="actions"><button type="button" class="danger" data-delete @click=${() => this.#delete(g)}>${t('ops.delete')}</button></td>` : null}</tr>`)}</tbody></table></div>`}
        </section>`)}
    `
  }

  #renderCreate () {
    const created = this.created
    const c = created?.credentials
    return html`
      <details class="panel" ?open=${created !== null}>
        <summary>${t('gateways.new')}</summary>
        <form class="inline" @submit=${this.#create}>
          <label class="field">${t('gateways.name')}<input name="name" required maxlength="200"></label>
          <label class="field">${t('col.site')}<input name="site" required maxlength="64" list="known-sites"></label>
          <datalist id="known-sites">${this.#sites.map(s => html`<option value=${s.site}></option>`)}</datalist>
          <button type="submit" class="primary">${t('gateways.create')}</button>
        </form>
        <p class="muted">${t('gateways.hint')}</p>
        ${c
          ? html`<div class="notice" role="status" data-gateway-secret>${t('gateways.secretOnce', { name: created.gateway.name })}
              <dl><dt>${t('sites.gatewayId')}</dt><dd class="mono" data-gateway-id>${c.username}</dd>
              <dt>${t('ops.password')}</dt><dd><span class="secret">${c.password}</span></dd>
              <dt>MQTT</dt><dd class="mono">${c.mqttUrl}</dd></dl>
              ${t('gateways.conf')}
              <pre data-mosquitto-conf>${mosquittoLines(c.username, c.password)}</pre>
              <button type="button" @click=${() => { this.created = null }}>${t('ops.hideSecret')}</button></div>`
          : null}
      </details>`
  }

  #create = (event: SubmitEvent): void => {
    event.preventDefault()
    const formElement = event.currentTarget as HTMLFormElement
    const form = new FormData(formElement)
    this.error = ''
    this.api.request<GatewayCreated>('POST', '/api/gateways', { body: { name: String(form.get('name')).trim(), site: String(form.get('site')).trim() } }).then(created => {
      formElement.reset()
      this.created = created
      this.gateways = [...this.gateways, created.gateway]
    }, err => { this.error = err instanceof ApiError ? err.message : t('error.request') })
  }

  async #delete (gateway: Gateway): Promise<void> {
    if (!await confirmAction(t('gateways.confirmDelete', { name: gateway.name, site: gateway.site }), t('ops.delete'))) return
    this.error = ''
    try {
      await this.api.request('DELETE', `/api/gateways/${encodeURIComponent(gateway.id)}`)
      this.gateways = this.gateways.filter(g => g.id !== gateway.id)
      if (this.created?.gateway.id === gateway.id) this.created = null
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : t('error.request')
    }
  }
}

/** The bridge lines of the repository's mosquitto.conf that take the gateway's id and secret
 * ({{GATEWAY_ID}}, {{GATEWAY_SECRET}}), filled in; the hub's address and CA stay placeholders. */
function mosquittoLines (id: string, secret: string): string {
  return `connection euicc-hub
address {{HUB_ADDRESS}}
bridge_cafile {{HUB_CA_FILE}}
remote_clientid ${id}
remote_username ${id}
remote_password ${secret}`
}

declare global {
  interface HTMLElementTagNameMap {
    'sites-view': SitesView
  }
}
