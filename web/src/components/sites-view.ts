import { LitElement, html } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { hasApi } from '../data/api-capabilities.ts'
import { apiContext, fleetContext } from '../data/context.ts'
import type { DeviceDetail, Gateway } from '../data/console-types.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { formatDateTime } from './format.ts'
import { viewStyles } from './shared-styles.ts'

interface SiteRow { site: string, gateways: Gateway[], devices: number, online: number }

/** Field sites: each with its gateways (GET /api/gateways) and how many of the fleet's devices are there. */
@customElement('sites-view')
export class SitesView extends LitElement {
  static override styles = viewStyles

  @consume({ context: apiContext }) api!: ApiClient
  @consume({ context: fleetContext, subscribe: true }) fleet: FleetStore | undefined

  @state() private gateways: Gateway[] = []
  @state() private error = ''
  @state() private loaded = false

  protected readonly i18n = new LocaleController(this)
  readonly #fleet = new FleetController(this, () => this.fleet)
  #sites: SiteRow[] = []

  override connectedCallback (): void {
    super.connectedCallback()
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
    return html`
      <h2>${t('sites.title')}</h2>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${this.loaded && this.#sites.length === 0 ? html`<p class="muted">${t('sites.empty')}</p>` : null}
      ${this.#sites.map(site => html`
        <section class="panel" data-site=${site.site}>
          <h3>${site.site}</h3>
          <p class="muted">${t('sites.devices', { count: site.devices, online: site.online })}
            · <a href=${`/?site=${encodeURIComponent(site.site)}`}>${t('sites.showDevices')}</a></p>
          ${site.gateways.length === 0
            ? html`<p class="muted">${t('sites.noGateway')}</p>`
            : html`<div class="table-wrap"><table>
              <thead><tr><th>${t('sites.gateway')}</th><th>${t('sites.gatewayId')}</th><th>${t('sites.state')}</th><th>${t('sites.created')}</th></tr></thead>
              <tbody>${site.gateways.map(g => html`<tr>
                <td>${g.name}</td><td class="mono">${g.id}</td>
                <td>${g.disabled ? html`<span class="badge bad">${t('sites.disabled')}</span>` : html`<span class="badge good">${t('sites.enabled')}</span>`}</td>
                <td>${formatDateTime(g.createdAt)}</td></tr>`)}</tbody></table></div>`}
        </section>`)}
    `
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sites-view': SitesView
  }
}
