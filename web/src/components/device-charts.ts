// The device page's charts (loaded on demand, with uPlot, as a chunk of their own): RSRP/RSRQ/SINR and
// battery from the bucketed telemetry API, an hour to 30 days, the live samples appended as they come.
import { LitElement, css, html, unsafeCSS, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import UPlot from 'uplot'
import uPlotCss from 'uplot/dist/uPlot.min.css'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext } from '../data/context.ts'
import { DeviceDetailApi } from '../data/device-detail.ts'
import type { Telemetry } from '../data/types.ts'
import { LocaleController, t, type MessageKey } from '../i18n/index.ts'

interface Range { key: string, label: MessageKey, ms: number, bucket: string }
const hour = 3600_000
export const ranges: readonly Range[] = [
  { key: '1h', label: 'charts.1h', ms: hour, bucket: '1m' },
  { key: '6h', label: 'charts.6h', ms: 6 * hour, bucket: '5m' },
  { key: '24h', label: 'charts.24h', ms: 24 * hour, bucket: '15m' },
  { key: '7d', label: 'charts.7d', ms: 7 * 24 * hour, bucket: '1h' },
  { key: '30d', label: 'charts.30d', ms: 30 * 24 * hour, bucket: '6h' }
]

type Series = [number[], ...Array<Array<number | null>>]

@customElement('device-charts')
export class DeviceCharts extends LitElement {
  static override styles = [unsafeCSS(uPlotCss), css`
    :host { display: block; }
    .bar { display: flex; flex-wrap: wrap; gap: 0.25rem; margin-bottom: 0.5rem; align-items: center; }
    .bar button {
      font: inherit; font-size: 0.8rem; padding: 0.2rem 0.6rem; cursor: pointer;
      border: 1px solid var(--hub-border); border-radius: var(--hub-radius); background: var(--hub-surface); color: var(--hub-fg);
    }
    .bar button[aria-pressed=true] { background: var(--hub-accent); border-color: var(--hub-accent); color: var(--hub-accent-fg); }
    .bar button:focus-visible { outline: 2px solid var(--hub-accent); outline-offset: 1px; }
    .muted { color: var(--hub-muted); font-size: 0.85rem; }
    .error { color: var(--hub-danger); }
    .chart { min-width: 0; margin-bottom: 0.75rem; }
    .uplot { font-family: inherit; }
    .u-legend { font-size: 0.8rem; color: var(--hub-fg); }
  `]

  @property() deviceId = ''
  /** The device's newest sample (from the fleet store): appended to the charts as it arrives. */
  @property({ attribute: false }) latest: Telemetry | null = null
  @consume({ context: apiContext }) api!: ApiClient

  @state() private range: Range = ranges[0]
  @state() private status: 'loading' | 'ready' | 'empty' | 'error' = 'loading'
  @state() private error = ''

  @query('.radio') private radioEl!: HTMLElement
  @query('.battery') private batteryEl!: HTMLElement

  protected readonly i18n = new LocaleController(this)
  #radio: UPlot | null = null
  #battery: UPlot | null = null
  #radioData: Series = [[], [], [], []]
  #batteryData: Series = [[], []]
  #load: AbortController | null = null
  #resize: ResizeObserver | null = null
  #lastLive = 0

  override connectedCallback (): void {
    super.connectedCallback()
    this.#resize = new ResizeObserver(() => this.#fit())
    this.#resize.observe(this)
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    this.#resize?.disconnect()
    this.#load?.abort()
    this.#destroy()
  }

  protected override willUpdate (changed: PropertyValues): void {
    if (changed.has('deviceId') || changed.has('range')) this.#fetch()
    if (changed.has('latest') && this.latest && this.status === 'ready') this.#append(this.latest)
  }

  protected override render () {
    return html`
      <div class="bar" role="group" aria-label=${t('charts.range')}>
        ${ranges.map(r => html`<button type="button" data-range=${r.key} aria-pressed=${r === this.range ? 'true' : 'false'} @click=${() => { this.range = r }}>${t(r.label)}</button>`)}
        ${this.status === 'loading' ? html`<span class="muted">${t('app.loading')}</span>` : null}
        ${this.status === 'empty' ? html`<span class="muted" data-charts-empty>${t('charts.empty')}</span>` : null}
        ${this.status === 'error' ? html`<span class="error" role="alert">${this.error}</span>` : null}
      </div>
      <div class="chart radio" data-chart="radio" role="img" aria-label=${t('charts.radioLabel')}></div>
      <div class="chart battery" data-chart="battery" role="img" aria-label=${t('charts.batteryLabel')}></div>
    `
  }

  #fetch (): void {
    this.#load?.abort()
    const controller = new AbortController()
    this.#load = controller
    this.status = 'loading'
    const range = this.range
    const to = new Date()
    const from = new Date(to.getTime() - range.ms)
    new DeviceDetailApi(this.api, this.deviceId).telemetry(from, to, range.bucket, controller.signal).then(answer => {
      if (controller.signal.aborted) return
      const xs: number[] = []
      const radio: Series = [xs, [], [], []]
      const battery: Series = [xs, []]
      for (const item of answer.items) {
        xs.push(Date.parse(item.ts) / 1000)
        radio[1].push(num(item.rsrpAvg))
        radio[2].push(num(item.rsrqAvg))
        radio[3].push(num(item.sinrAvg))
        battery[1].push(num(item.batteryAvg))
      }
      this.#radioData = radio
      this.#batteryData = [xs.slice(), battery[1]]
      this.#lastLive = xs.length ? xs[xs.length - 1] : 0
      this.status = xs.length === 0 ? 'empty' : 'ready'
      this.updateComplete.then(() => this.#draw(from, to), () => {})
    }, err => {
      if (controller.signal.aborted) return
      this.status = 'error'
      this.error = err instanceof ApiError ? err.message : t('error.loading')
    })
  }

  #append (sample: Telemetry): void {
    const x = Date.parse(sample.ts) / 1000
    if (!(x > this.#lastLive)) return
    this.#lastLive = x
    const r = this.#radioData
    r[0].push(x)
    r[1].push(num(sample.rsrp))
    r[2].push(num(sample.rsrq))
    r[3].push(num(sample.sinr))
    const b = this.#batteryData
    b[0].push(x)
    b[1].push(num(sample.battery))
    this.#radio?.setData(r as UPlot.AlignedData)
    this.#battery?.setData(b as UPlot.AlignedData)
  }

  #draw (from: Date, to: Date): void {
    this.#destroy()
    const style = getComputedStyle(this)
    const color = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback
    const muted = color('--hub-muted', '#5d6978')
    const grid = color('--hub-row-border', '#edf0f3')
    const width = Math.max(240, this.clientWidth)
    const axis = (label: string, side?: number, scale?: string): UPlot.Axis => ({ label, stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, ...(side === undefined ? {} : { side }), ...(scale ? { scale } : {}) })
    const xScale = { time: true, min: from.getTime() / 1000, max: to.getTime() / 1000 }
    this.#radio = new UPlot({
      width,
      height: 220,
      scales: { x: xScale, dbm: {}, db: {} },
      series: [
        {},
        { label: 'RSRP (dBm)', scale: 'dbm', stroke: color('--hub-accent', '#1d6fd8'), width: 2, spanGaps: false },
        { label: 'RSRQ (dB)', scale: 'db', stroke: color('--hub-warning', '#d99a00'), width: 1.5 },
        { label: 'SINR (dB)', scale: 'db', stroke: color('--hub-online', '#1f9d55'), width: 1.5 }
      ],
      axes: [{ stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } }, axis('dBm', 3, 'dbm'), axis('dB', 1, 'db')]
    }, this.#radioData as UPlot.AlignedData, this.radioEl)
    this.#battery = new UPlot({
      width,
      height: 160,
      scales: { x: xScale, pct: { range: [0, 100] } },
      series: [{}, { label: `${t('col.battery')} (%)`, scale: 'pct', stroke: color('--hub-online', '#1f9d55'), width: 2, fill: color('--hub-online-halo', 'rgb(31 157 85 / 0.18)') }],
      axes: [{ stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } }, axis('%', 3, 'pct')]
    }, this.#batteryData as UPlot.AlignedData, this.batteryEl)
  }

  #fit (): void {
    const width = Math.max(240, this.clientWidth)
    this.#radio?.setSize({ width, height: 220 })
    this.#battery?.setSize({ width, height: 160 })
  }

  #destroy (): void {
    this.#radio?.destroy()
    this.#battery?.destroy()
    this.#radio = null
    this.#battery = null
  }
}

function num (value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

declare global {
  interface HTMLElementTagNameMap {
    'device-charts': DeviceCharts
  }
}
