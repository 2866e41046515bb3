import { LitElement, css, html } from 'lit'
import { customElement } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { eventStreamContext } from '../data/context.ts'
import type { EventStream } from '../data/event-stream.ts'
import { StreamStateController } from '../data/stream-state-controller.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { formatTimestamp } from './format.ts'

/** Says so, on every view, when the live stream is down or silent: what the page shows may be old. */
@customElement('live-banner')
export class LiveBanner extends LitElement {
  static override styles = css`
    :host { display: block; }
    p {
      margin: 0;
      padding: 0.45rem 1rem;
      background: var(--hub-warning-bg);
      color: var(--hub-warning-text);
      border-bottom: 1px solid var(--hub-warning);
      font-size: 0.875rem;
    }
  `

  @consume({ context: eventStreamContext, subscribe: true })
  stream: EventStream | undefined

  readonly #stream = new StreamStateController(this, () => this.stream)
  protected readonly i18n = new LocaleController(this)

  protected override render () {
    if (!this.#stream.stale) return null
    const since = this.#stream.staleSince
    return html`<p role="alert" data-stale-banner>${since === null ? t('live.down') : t('live.downSince', { time: formatTimestamp(new Date(since).toISOString()) })}</p>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'live-banner': LiveBanner
  }
}
