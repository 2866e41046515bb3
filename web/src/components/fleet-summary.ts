import { LitElement, css, html } from 'lit'
import { customElement } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { eventStreamContext, fleetContext } from '../data/context.ts'
import type { EventStream } from '../data/event-stream.ts'
import { FleetController } from '../data/fleet-controller.ts'
import type { FleetStore } from '../data/fleet-store.ts'
import { StreamStateController } from '../data/stream-state-controller.ts'
import { formatCount } from './format.ts'

const streamLabels = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…'
} as const

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
    .live.reconnecting .dot {
      background: var(--hub-warning);
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

  protected override render () {
    const store = this.#fleet.store
    const summary = store?.summary
    const progress = store?.progress
    const state = this.#stream.state
    return html`
      <div class="figure" data-figure="total"><strong>${summary ? formatCount(summary.total) : '–'}</strong><span class="label">devices</span></div>
      <div class="figure online" data-figure="online"><span class="dot"></span><strong>${summary ? formatCount(summary.online) : '–'}</strong><span class="label">online</span></div>
      <div class="figure offline" data-figure="offline"><span class="dot"></span><strong>${summary ? formatCount(summary.offline) : '–'}</strong><span class="label">offline</span></div>
      <div class="aside">
        ${progress?.error
          ? html`<span class="error" role="alert">${progress.error}</span><button type="button" @click=${() => store?.reload()}>Retry</button>`
          : progress && !progress.done
            ? html`<span role="status">Loading devices… ${formatCount(progress.loaded)}</span>`
            : null}
        <span class="live ${state}" role="status"><span class="dot"></span>${streamLabels[state]}</span>
      </div>
    `
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'fleet-summary': FleetSummary
  }
}
