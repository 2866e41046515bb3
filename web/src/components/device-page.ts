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
import { formatBytes, formatDateTime, formatMetric, formatPeriod, formatRelative, formatText } from './format.ts'
import { viewStyles } from './shared-styles.ts'

const finished = new Set(['succeeded', 'failed', 'expired', 'cancelled'])
const steps = ['queued', 'sent', 'done'] as const

/**
 * One device: its state (live from the fleet store), charts of its radio figures and battery (loaded
 * on demand: uPlot is a chunk of its own), its eUICC's profiles, notifications and commands, and the
 * eSIM operations, whose progress follows `command.updated` on the app's one event stream.
 */
@customElement('device-page')
export class DevicePage extends LitElement {
  static override styles = [viewStyles, css`
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
    .steps { display: inline-flex; gap: 2px; vertical-align: middle; margin-right: 0.4rem; }
    .steps span { width: 1.1rem; height: 0.35rem; background: var(--hub-tag-bg); border-radius: 2px; }
    .steps span.on { background: var(--hub-accent); }
    .steps.failed span.on { background: var(--hub-danger); }
    .steps.succeeded span.on { background: var(--hub-online); }
    td.actions { white-space: nowrap; }
    td.actions button { padding: 0.15rem 0.5rem; font-size: 0.8rem; }
    .state-enabled { color: var(--hub-online-text); font-weight: 600; }
    .reason { color: var(--hub-danger); }
    .stale { color: var(--hub-warning-text); }
    .usage td.bar { width: 50%; min-width: 6rem; vertical-align: middle; }
    .usage .progress { height: 0.75rem; }
    .usage .n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
    .tabs { display: inline-flex; gap: 0.25rem; margin-bottom: 0.5rem; }
    .tabs button[aria-pressed=true] { background: var(--hub-accent); border-color: var(--hub-accent); color: var(--hub-accent-fg); }
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
      ${this.#renderUsage()}
      ${this.#renderOperations(device, operator)}
      ${this.#renderProfiles(operator)}
      ${this.#renderCommands()}
      ${this.#renderNotifications()}
    `
  }

  #renderUsage () {
    const usage = this.usage
    const plan = usage?.plan
    const rows = (usage?.items ?? []).slice(-(this.usagePeriod === 'day' ? 14 : 12)).reverse()
    const peak = Math.max(1, ...rows.map(r => r.bytesUp + r.bytesDown))
    const percent = plan ? (plan.usedBytes / Math.max(plan.quotaBytes, 1)) * 100 : 0
    const tab = (period: 'day' | 'month') => html`<button type="button" data-usage-period=${period} aria-pressed=${this.usagePeriod === period ? 'true' : 'false'}
      @click=${() => { this.usagePeriod = period; this.#loadUsage() }}>${t(`usage.${period}s`)}</button>`
    return html`
      <section class="panel usage" data-usage>
        <h3>${t('usage.title')}</h3>
        ${plan
          ? html`<p data-plan-usage>${t(`usage.plan.${plan.period}`, { name: this.plan?.name ?? '…', quota: formatBytes(plan.quotaBytes) })}:
              <strong>${t('usage.used', { used: formatBytes(plan.usedBytes), percent: formatMetric(percent, '', 1) })}</strong></p>
            <div class="progress" role="progressbar" aria-label=${t('usage.title')} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(percent)}>
              <span class=${percent >= 100 ? 'failed' : 'active'} data-width=${`${Math.min(percent, 100)}%`}></span></div>`
          : html`<p class="muted">${t('usage.noPlan')}</p>`}
        <p><span class="tabs" role="group" aria-label=${t('usage.per')}>${tab('day')}${tab('month')}</span></p>
        ${rows.length === 0
          ? html`<p class="muted">${t('usage.none')}</p>`
          : html`<div class="table-wrap"><table>
            <thead><tr><th>${t(`usage.${this.usagePeriod}`)}</th><th>${t('usage.total')}</th><th class="n">${t('usage.up')}</th><th class="n">${t('usage.down')}</th></tr></thead>
            <tbody>${rows.map(r => html`<tr data-usage-row>
              <td>${formatPeriod(r.periodStart, this.usagePeriod)}</td>
              <td class="bar"><div class="progress" title=${formatBytes(r.bytesUp + r.bytesDown)}><span class="active" data-width=${`${((r.bytesUp + r.bytesDown) / peak) * 100}%`}></span></div></td>
              <td class="n">${formatBytes(r.bytesUp)}</td><td class="n">${formatBytes(r.bytesDown)}</td>
            </tr>`)}</tbody></table></div>`}
      </section>`
  }

  protected override updated (): void {
    // widths through the CSSOM: the page's CSP allows no inline style attributes
    for (const span of this.renderRoot.querySelectorAll<HTMLElement>('.progress > span[data-width]')) span.style.width = span.dataset.width ?? '0'
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

  #renderProfiles (operator: boolean) {
    return html`
      <section class="panel">
        <h3>${t('profiles.title')}</h3>
        ${this.profiles.length === 0
          ? html`<p class="muted">${t('profiles.none')}</p>`
          : html`<div class="table-wrap"><table>
            <thead><tr><th>ICCID</th><th>${t('profiles.state')}</th><th>${t('fleet.operator')}</th><th>${t('profiles.name')}</th><th>${t('profiles.changed')}</th><th>${t('profiles.cause')}</th>${operator ? html`<th></th>` : null}</tr></thead>
            <tbody>${this.profiles.map(p => html`<tr data-profile=${p.iccid}>
              <td class="mono">${p.iccid}</td>
              <td class="state-${p.state}">${t(`profileState.${p.state as 'enabled'}`)}${p.conflict ? html` <span class="badge warn" title=${p.conflict}>${t('profiles.conflict')}</span>` : null}</td>
              <td>${p.operator?.name ?? '—'}</td>
              <td>${p.name ?? p.spn ?? '—'}</td>
              <td title=${formatDateTime(p.changedAt)}>${formatRelative(p.changedAt)}</td>
              <td>${p.cause}${p.seqNumber === null ? '' : ` #${p.seqNumber}`}</td>
              ${operator
                ? html`<td class="actions">
                  ${p.state === 'enabled'
                    ? html`<button type="button" data-op="disable" @click=${() => this.#run('disable', { iccid: p.iccid })}>${t('ops.disable')}</button>`
                    : html`<button type="button" data-op="enable" @click=${() => this.#run('enable', { iccid: p.iccid })}>${t('ops.enable')}</button>`}
                  <button type="button" class="danger" data-op="delete" @click=${() => this.#deleteProfile(p)}>${t('ops.delete')}</button></td>`
                : null}
            </tr>`)}</tbody></table></div>`}
      </section>`
  }

  #renderCommands () {
    return html`
      <section class="panel">
        <h3>${t('commands.title')}</h3>
        ${this.commands.length === 0
          ? html`<p class="muted">${t('commands.none')}</p>`
          : html`<div class="table-wrap"><table>
            <thead><tr><th>${t('commands.op')}</th><th>ICCID</th><th>${t('commands.state')}</th><th>${t('commands.created')}</th><th>${t('commands.finished')}</th><th>${t('commands.error')}</th></tr></thead>
            <tbody>${this.commands.map(c => html`<tr data-command-id=${c.id} data-command-status=${c.status}>
              <td>${t(`op.${c.op as CommandOp}`)}</td>
              <td class="mono">${c.iccid ?? '—'}</td>
              <td>${progressSteps(c)}${t(`commandStatus.${c.status}`)}</td>
              <td title=${formatDateTime(c.createdAt)}>${formatRelative(c.createdAt)}</td>
              <td>${c.finishedAt ? formatDateTime(c.finishedAt) : '—'}</td>
              <td>${c.error ? html`<span class="reason">${c.error.code}</span>: ${c.error.message}` : '—'}</td>
            </tr>`)}</tbody></table></div>`}
      </section>`
  }

  #renderNotifications () {
    return html`
      <section class="panel">
        <h3>${t('notifications.title')}</h3>
        ${this.notifications.length === 0
          ? html`<p class="muted">${t('notifications.none')}</p>`
          : html`<div class="table-wrap"><table>
            <thead><tr><th>${t('notifications.received')}</th><th>#</th><th>${t('commands.op')}</th><th>ICCID</th><th>${t('notifications.verdict')}</th><th>${t('notifications.reason')}</th><th>${t('notifications.source')}</th></tr></thead>
            <tbody>${this.notifications.map(n => html`<tr data-notification=${n.id}>
              <td title=${formatDateTime(n.receivedAt)}>${formatDateTime(n.receivedAt)}</td>
              <td>${n.seqNumber ?? '—'}</td>
              <td>${n.operation ?? n.kind ?? '—'}</td>
              <td class="mono">${n.iccid ?? '—'}</td>
              <td><span class="badge ${n.status === 'accepted' ? 'good' : n.status === 'rejected' ? 'bad' : ''}">${t(`verdict.${n.status as 'accepted'}`)}</span></td>
              <td>${n.reason ? html`<span class="reason">${n.reason}</span>${n.detail ? html`<div class="muted">${n.detail}</div>` : null}` : '—'}</td>
              <td>${n.source}</td>
            </tr>`)}</tbody></table></div>`}
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

/** Newest first, one entry per command, the later state winning. */
function mergeCommands (incoming: Command[], current: Command[]): Command[] {
  const byId = new Map(current.map(c => [c.id, c]))
  for (const command of incoming) byId.set(command.id, { ...byId.get(command.id), ...command })
  return [...byId.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).slice(0, 50)
}

function progressSteps (command: Command) {
  const reached = command.status === 'queued' ? 1 : command.status === 'sent' ? 2 : 3
  const kind = command.status === 'succeeded' ? 'succeeded' : finished.has(command.status) ? 'failed' : ''
  return html`<span class="steps ${kind}" aria-hidden="true">${steps.map((_, i) => html`<span class=${i < reached ? 'on' : ''}></span>`)}</span>`
}

declare global {
  interface HTMLElementTagNameMap {
    'device-page': DevicePage
  }
}
