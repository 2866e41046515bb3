import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext, fleetContext } from '../data/context.ts'
import type { Command, CommandOp, DeviceCredentials, DeviceDetail, DeviceNotification, Plan, Profile, Usage } from '../data/console-types.ts'
import { activationCodeQr, DeviceDetailApi } from '../data/device-detail.ts'
import type { EventStream } from '../data/event-stream.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { SourceController } from '../data/source-controller.ts'
import { StreamStateController } from '../data/stream-state-controller.ts'
import type { HubEvent } from '../data/types.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { confirmAction } from './confirm-dialog.ts'
import { formatDateTime, formatMetric, formatRelative, formatText } from './format.ts'
import { deviceListStyles, finished, mergeCommands, renderCommands, renderNotifications, renderProfiles } from './device-lists.ts'
import './device-usage-panel.ts'
import { viewStyles } from './shared-styles.ts'

/**
 * One device: its state (live from the fleet store), charts of its radio figures and battery (loaded
 * on demand: uPlot is a chunk of its own), its eUICC's profiles, notifications and commands, and the
 * eSIM operations, whose progress follows `command.updated` on the app's one event stream.
 */
@customElement('device-page')
export class DevicePage extends LitElement {
  static override styles = [viewStyles, deviceListStyles, css`
    .crumbs { margin-bottom: 0.5rem; font-size: 0.85rem; }
    .head { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; margin-bottom: 0.75rem; }
    .head h2 { margin: 0; overflow-wrap: anywhere; }
    .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: 0 1rem; }
    dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.3rem 1rem; margin: 0; }
    dt { color: var(--hub-muted); }
    dd { margin: 0; overflow-wrap: anywhere; }
    .ops { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
    .download { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-start; margin-top: 0.75rem; }
    .download label { flex: 1 1 20rem; }
    .download input { width: 100%; font-family: var(--hub-mono); }
    .download img { width: 9rem; height: 9rem; background: #fff; border-radius: var(--hub-radius); }
    .stale { color: var(--hub-warning-text); }
  `]

  @property() deviceId = ''
  /** The signed-in user's role: operations for admins and operators, credentials for technicians too. */
  @property() role = 'viewer'

  @consume({ context: apiContext }) api!: ApiClient
  @consume({ context: fleetContext, subscribe: true }) fleet: FleetStore | undefined
  @consume({ context: eventStreamContext, subscribe: true }) stream: EventStream | undefined

  @state() private fetched: DeviceDetail | null = null
  @state() private error = ''
  @state() private profiles: Profile[] = []
  @state() private notifications: DeviceNotification[] = []
  @state() private commands: Command[] = []
  @state() private opError = ''
  @state() private credentials: DeviceCredentials | null = null
  @state() private activationCode = ''
  @state() private qr = ''
  @state() private chartsReady = false
  @state() private usage: Usage | null = null
  @state() private usagePeriod: 'day' | 'month' = 'day'
  @state() private plan: Plan | null = null

  protected readonly i18n = new LocaleController(this)
  readonly #fleet = new FleetController(this, () => this.fleet)
  readonly #live = new StreamStateController(this, () => this.stream)
  #detail: DeviceDetailApi | null = null
  #qrTimer: ReturnType<typeof setTimeout> | undefined
  #reloadTimer: ReturnType<typeof setTimeout> | undefined
  #usageTimer: ReturnType<typeof setTimeout> | undefined

  constructor () {
    super()
    // the device's events: command progress, profile changes, notifications
    new SourceController<EventStream>(this, () => this.stream, stream => stream.subscribe(event => this.#onEvent(event))) // eslint-disable-line no-new
  }

  override connectedCallback (): void {
    super.connectedCallback()
    import('./device-charts.ts').then(() => { this.chartsReady = true }, () => {})
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    clearTimeout(this.#qrTimer)
    clearTimeout(this.#reloadTimer)
    clearTimeout(this.#usageTimer)
  }

  protected override willUpdate (changed: PropertyValues): void {
    if (changed.has('deviceId')) this.#load()
  }

  #load (): void {
    const id = this.deviceId
    const detail = this.#detail = new DeviceDetailApi(this.api, id)
    this.fetched = null
    this.error = ''
    this.profiles = []
    this.notifications = []
    this.commands = []
    this.credentials = null
    this.usage = null
    this.plan = null
    this.api.request<DeviceDetail>('GET', `/api/devices/${encodeURIComponent(id)}`).then(device => {
      if (detail !== this.#detail) return
      this.fetched = device
      this.#loadLists()
    }, err => {
      if (detail !== this.#detail) return
      this.error = err instanceof ApiError && (err.status === 404 || err.status === 400) ? t('device.notFound') : err instanceof ApiError ? err.message : t('error.loading')
    })
  }

  #loadLists (): void {
    const detail = this.#detail
    if (!detail) return
    detail.profiles().then(answer => { if (detail === this.#detail) this.profiles = answer.items }, () => {})
    detail.notifications().then(answer => { if (detail === this.#detail) this.notifications = answer.items }, () => {})
    detail.commands().then(answer => { if (detail === this.#detail) this.commands = mergeCommands(answer.items, this.commands) }, () => {})
    this.#loadUsage()
  }

  /** Usage per day or month (GET …/usage) and, when the device has a plan, its name (GET /api/plans). */
  #loadUsage (): void {
    const detail = this.#detail
    if (!detail) return
    detail.usage(this.usagePeriod).then(async usage => {
      if (detail !== this.#detail) return
      this.usage = usage
      const id = usage.plan?.id
      if (id && this.plan?.id !== id) {
        const plans = await this.api.request<{ items: Plan[] }>('GET', '/api/plans')
        if (detail === this.#detail) this.plan = plans.items.find(p => p.id === id) ?? null
      }
    }).catch(() => {})
  }

  #onEvent (event: HubEvent): void {
    switch (event.type) {
      case 'command.updated': {
        if (event.data.deviceId !== this.deviceId) return
        this.commands = mergeCommands([event.data], this.commands)
        // a finished listProfiles or profile operation changes the inventory
        if (finished.has(event.data.status)) this.#scheduleReload()
        return
      }
      case 'profile.changed':
      case 'notification':
        if (event.data.deviceId === this.deviceId) this.#scheduleReload()
        return
      case 'telemetry':
        // the counters moved: usage again, at most once a second
        if (event.data.deviceId === this.deviceId && (event.data.bytesUp !== undefined || event.data.bytesDown !== undefined)) {
          clearTimeout(this.#usageTimer)
          this.#usageTimer = setTimeout(() => this.#loadUsage(), 1000)
        }
        return
      case 'resync':
        this.#loadLists()
    }
  }

  #scheduleReload (): void {
    clearTimeout(this.#reloadTimer)
    this.#reloadTimer = setTimeout(() => this.#loadLists(), 300)
  }

  get #device (): DeviceDetail | null {
    return (this.#fleet.store?.get(this.deviceId) as DeviceDetail | undefined) ?? this.fetched
  }

  protected override render () {
    const device = this.#device
    return html`
      <nav class="crumbs" aria-label=${t('device.breadcrumb')}><a href="/">${t('nav.fleet')}</a> › ${device?.name ?? this.deviceId}</nav>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${device ? this.#renderDevice(device) : this.error ? null : html`<p class="muted">${t('app.loading')}</p>`}
    `
  }

  #renderDevice (device: DeviceDetail) {
    const stale = this.#live.stale
    const status = stale ? 'stale' : device.status
    const m = device.latestTelemetry
    const operator = this.role === 'admin' || this.role === 'operator'
    return html`
      <div class="head">
        <h2 data-device-name>${device.name}</h2>
        <span class="badge ${status === 'online' ? 'good' : status === 'stale' ? 'warn' : ''}" data-device-status=${status}>${t(`status.${status}`)}</span>
        ${device.disabled ? html`<span class="badge bad">${t('device.disabled')}</span>` : null}
      </div>
      <div class="grid">
        <section class="panel">
          <h3>${t('device.about')}</h3>
          <dl>
            <dt>${t('device.id')}</dt><dd class="mono">${device.id}</dd>
            <dt>${t('col.lastSeen')}</dt><dd title=${formatDateTime(device.lastSeenAt)}>${formatRelative(device.lastSeenAt)}${device.lastSeenAt ? html` <span class="muted">(${formatDateTime(device.lastSeenAt)})</span>` : null}</dd>
            <dt>EID</dt><dd class="mono">${device.eid ?? '—'}</dd>
            <dt>IMEI</dt><dd class="mono">${device.imei ?? '—'}</dd>
            <dt>${t('device.agent')}</dt><dd>${device.esimAgent === 'ipa' ? t('device.agentIpa') : t('device.agentLpa')}</dd>
            <dt>${t('col.site')}</dt><dd>${device.site ?? '—'}</dd>
            <dt>${t('col.tags')}</dt><dd>${device.tags.length ? device.tags.map(tag => html`<span class="badge">${tag}</span> `) : '—'}</dd>
          </dl>
        </section>
        <section class="panel">
          <h3>${t('device.latest')} ${stale ? html`<span class="stale">(${t('status.stale')})</span>` : null}</h3>
          <dl>
            <dt>RSRP</dt><dd>${formatMetric(m?.rsrp, 'dBm')}</dd>
            <dt>RSRQ</dt><dd>${formatMetric(m?.rsrq, 'dB', 1)}</dd>
            <dt>SINR</dt><dd>${formatMetric(m?.sinr, 'dB', 1)}</dd>
            <dt>RAT</dt><dd>${formatText(m?.rat)}</dd>
            <dt>${t('col.battery')}</dt><dd>${formatMetric(m?.battery, '%')}</dd>
            <dt>${t('col.temperature')}</dt><dd>${formatMetric(m?.temperature, '°C', 1)}</dd>
            <dt>${t('device.sampleAt')}</dt><dd>${formatDateTime(m?.ts)}</dd>
          </dl>
        </section>
      </div>
      <section class="panel">
        <h3>${t('device.charts')}</h3>
        ${this.chartsReady ? html`<device-charts .deviceId=${device.id} .latest=${m}></device-charts>` : html`<p class="muted">${t('app.loading')}</p>`}
      </section>
      <device-usage-panel .usage=${this.usage} .plan=${this.plan} .period=${this.usagePeriod}
        @usage-period=${(e: CustomEvent<'day' | 'month'>) => { this.usagePeriod = e.detail; this.#loadUsage() }}></device-usage-panel>
      ${this.#renderOperations(device, operator)}
      ${renderProfiles(this.profiles, operator ? { run: (op, iccid) => { this.#run(op, { iccid }).catch(() => {}) }, delete: profile => { this.#deleteProfile(profile).catch(() => {}) } } : null)}
      ${renderCommands(this.commands)}
      ${renderNotifications(this.notifications)}
    `
  }

  #renderOperations (device: DeviceDetail, operator: boolean) {
    const writer = operator || this.role === 'technician'
    if (!writer) return null
    return html`
      <section class="panel" data-operations>
        <h3>${t('ops.title')}</h3>
        ${this.opError ? html`<p class="error" role="alert">${this.opError}</p>` : null}
        <div class="ops">
          ${operator ? html`<button type="button" data-op="listProfiles" @click=${() => this.#run('listProfiles')}>${t('ops.listProfiles')}</button>` : null}
          <button type="button" data-op="rotate" @click=${this.#rotate}>${t('ops.rotate')}</button>
        </div>
        ${this.credentials
          ? html`<div class="notice" role="status" data-new-secret>${t('ops.secretOnce')}
              <dl><dt>${t('ops.username')}</dt><dd class="mono">${this.credentials.username}</dd>
              <dt>${t('ops.password')}</dt><dd><span class="secret">${this.credentials.password}</span></dd>
              <dt>MQTT</dt><dd class="mono">${this.credentials.mqttUrl}</dd></dl>
              <button type="button" @click=${() => { this.credentials = null }}>${t('ops.hideSecret')}</button></div>`
          : null}
        ${operator
          ? html`<form class="download" @submit=${this.#download}>
              <label class="field">${t('ops.activationCode')}
                <input name="code" required maxlength="512" placeholder="LPA:1$smdp.example.com$MATCHING-ID" .value=${this.activationCode} @input=${this.#onCode} data-activation-code></label>
              ${this.qr ? html`<img src=${this.qr} alt=${t('ops.qrAlt')} data-qr>` : null}
              <button type="submit" class="primary" data-op="download">${t('ops.download')}</button>
            </form>`
          : null}
        ${device.esimAgent === 'ipa' ? html`<p class="muted">${t('ops.ipaHint')}</p>` : null}
      </section>`
  }

  async #run (op: CommandOp, fields: { iccid?: string, activationCode?: string } = {}): Promise<void> {
    this.opError = ''
    try {
      const command = await this.#detail!.run(op, fields)
      this.commands = mergeCommands([command], this.commands)
    } catch (err) {
      this.opError = err instanceof ApiError ? err.message : t('error.request')
    }
  }

  async #deleteProfile (profile: Profile): Promise<void> {
    if (!await confirmAction(t('ops.confirmDelete', { iccid: profile.iccid }), t('ops.delete'))) return
    await this.#run('delete', { iccid: profile.iccid })
  }

  #rotate = async (): Promise<void> => {
    if (!await confirmAction(t('ops.confirmRotate'), t('ops.rotate'))) return
    this.opError = ''
    try {
      this.credentials = await this.#detail!.rotateCredentials()
    } catch (err) {
      this.opError = err instanceof ApiError ? err.message : t('error.request')
    }
  }

  #onCode = (event: Event): void => {
    this.activationCode = (event.target as HTMLInputElement).value.trim()
    clearTimeout(this.#qrTimer)
    this.qr = ''
    const code = this.activationCode
    // the QR once the code looks whole (LPA:1$address$matching id); the hub checks it
    if (!/^LPA:1\$[^$]+\$/.test(code)) return
    this.#qrTimer = setTimeout(() => {
      activationCodeQr(this.api, code).then(url => { if (code === this.activationCode) this.qr = url }, () => {})
    }, 250)
  }

  #download = (event: SubmitEvent): void => {
    event.preventDefault()
    if (!this.activationCode) return
    this.#run('download', { activationCode: this.activationCode }).catch(() => {})
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'device-page': DevicePage
  }
}
