import { LitElement, css, html } from 'lit'
import { customElement } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { eventStreamContext, fleetContext } from '../data/context.ts'
import type { EventStream } from '../data/event-stream.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { StreamStateController } from '../data/stream-state-controller.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { formatCount } from './format.ts'

/** The strip above the table: total, online and offline devices, load progress and the stream's state. */
@customElement('fleet-summary')
export class FleetSummary extends LitElement {
  static override styles = css`
    :host {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem 1.5rem;
      padding: 0.6rem 1rem;
      background: var(--hub-surface);
      border-bottom: 1px solid var(--hub-border);
      font-size: 0.9rem;
    }
    .figure {
      display: flex;
      align-items: baseline;
      gap: 0.4rem;
    }
    .figure strong {
      font-size: 1.25rem;
      font-variant-numeric: tabular-nums;
    }
    .label {
      color: var(--hub-muted);
    }
    .dot {
      display: inline-block;
      width: 0.6rem;
      height: 0.6rem;
      border-radius: 50%;
      background: var(--hub-offline);
    }
    .online .dot, .live.open .dot {
      background: var(--hub-online);
    }
    .aside {
      margin-left: auto;
      display: flex;
      gap: 1rem;
      align-items: center;
      color: var(--hub-muted);
    }
    .live {
      display: flex;
      align-items: center;
      gap: 0.35rem;
    }
    .live.reconnecting .dot, .stale .dot {
      background: var(--hub-warning);
    }
    .stale strong {
      color: var(--hub-warning-text);
    }
    .error {
      color: var(--hub-danger);
    }
    button {
      font: inherit;
      font-size: 0.85rem;
      padding: 0.1rem 0.6rem;
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      background: var(--hub-bg);
      color: var(--hub-fg);
      cursor: pointer;
    }
  `

  @consume({ context: fleetContext, subscribe: true })
  fleet: FleetStore | undefined

  @consume({ context: eventStreamContext, subscribe: true })
  stream: EventStream | undefined

  readonly #fleet = new FleetController(this, () => this.fleet)
  readonly #stream = new StreamStateController(this, () => this.stream)
  protected readonly i18n = new LocaleController(this)

  protected override render () {
    const store = this.#fleet.store
    const summary = store?.summary
    const progress = store?.progress
    const state = this.#stream.state
    const stale = this.#stream.stale
    const figure = (name: 'online' | 'offline', value: number | undefined) =>
      html`<div class="figure ${name}" data-figure=${name}><span class="dot"></span><strong>${value === undefined ? '–' : formatCount(value)}</strong><span class="label">${t(`status.${name}`)}</span></div>`
    return html`
      <div class="figure" data-figure="total"><strong>${summary ? formatCount(summary.total) : '–'}</strong><span class="label">${t('summary.devices')}</span></div>
      ${stale
        // the last known counts would be a claim the page cannot back: say the states are unknown
        ? html`<div class="figure stale" data-figure="stale" title=${t('live.staleHint')}><span class="dot"></span><strong>${summary ? formatCount(summary.total) : '–'}</strong><span class="label">${t('status.stale')}</span></div>`
        : html`${figure('online', summary?.online)}${figure('offline', summary?.offline)}`}
      <div class="aside">
        ${progress?.error
          ? html`<span class="error" role="alert">${progress.error}</span><button type="button" @click=${() => store?.reload()}>${t('app.retry')}</button>`
          : progress && !progress.done
            ? html`<span role="status">${t('summary.loading', { count: progress.loaded })}</span>`
            : null}
        <span class="live ${state}" role="status" data-stream=${state}><span class="dot"></span>${t(`stream.${state}`)}</span>
      </div>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'fleet-summary': FleetSummary
  }
}
