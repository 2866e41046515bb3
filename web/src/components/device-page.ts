import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext, fleetContext } from '../data/context.ts'
import type { DeviceDetail } from '../data/console-types.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { formatDateTime, formatRelative } from './format.ts'
import { viewStyles } from './shared-styles.ts'

/** One device: its state, live from the fleet store once loaded, from GET /api/devices/:id before. */
@customElement('device-page')
export class DevicePage extends LitElement {
  static override styles = [viewStyles, css`
    .crumbs { margin-bottom: 0.5rem; font-size: 0.85rem; }
    dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.3rem 1rem; margin: 0; }
    dt { color: var(--hub-muted); }
    dd { margin: 0; overflow-wrap: anywhere; }
  `]

  @property() deviceId = ''
  @consume({ context: apiContext }) api!: ApiClient
  @consume({ context: fleetContext, subscribe: true }) fleet: FleetStore | undefined

  @state() private fetched: DeviceDetail | null = null
  @state() private error = ''

  protected readonly i18n = new LocaleController(this)
  readonly #fleet = new FleetController(this, () => this.fleet)

  protected override willUpdate (changed: PropertyValues): void {
    if (changed.has('deviceId')) {
      this.fetched = null
      this.error = ''
      const id = this.deviceId
      this.api.request<DeviceDetail>('GET', `/api/devices/${encodeURIComponent(id)}`).then(device => {
        if (id === this.deviceId) this.fetched = device
      }, err => {
        if (id !== this.deviceId) return
        this.error = err instanceof ApiError && err.status === 404 ? t('device.notFound') : err instanceof ApiError ? err.message : t('error.loading')
      })
    }
  }

  get #device (): DeviceDetail | null {
    return (this.#fleet.store?.get(this.deviceId) as DeviceDetail | undefined) ?? this.fetched
  }

  protected override render () {
    const device = this.#device
    return html`
      <nav class="crumbs" aria-label=${t('device.breadcrumb')}><a href="/">${t('nav.fleet')}</a> › ${device?.name ?? this.deviceId}</nav>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${device
        ? html`
          <h2 data-device-name>${device.name}</h2>
          <section class="panel">
            <dl>
              <dt>${t('device.id')}</dt><dd class="mono">${device.id}</dd>
              <dt>${t('col.status')}</dt><dd data-device-status=${device.status}>${t(`status.${device.status}`)}</dd>
              <dt>${t('col.lastSeen')}</dt><dd title=${formatDateTime(device.lastSeenAt)}>${formatRelative(device.lastSeenAt)}</dd>
              <dt>EID</dt><dd class="mono">${device.eid ?? '—'}</dd>
              <dt>IMEI</dt><dd class="mono">${device.imei ?? '—'}</dd>
              <dt>${t('col.site')}</dt><dd>${device.site ?? '—'}</dd>
              <dt>${t('col.tags')}</dt><dd>${device.tags.length ? device.tags.join(', ') : '—'}</dd>
            </dl>
          </section>`
        : this.error ? null : html`<p class="muted">${t('app.loading')}</p>`}
    `
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'device-page': DevicePage
  }
}
