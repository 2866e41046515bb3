import { LitElement, css, html } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { Plan, Usage } from '../data/console-types.ts'
import { LocaleController, t } from '../i18n/index.ts'
import { formatBytes, formatMetric, formatPeriod } from './format.ts'
import { viewStyles } from './shared-styles.ts'

/**
 * A device's data usage: used of its plan's quota (with a bar) and the last days or months as bars.
 * The device page loads it; choosing days or months fires `usage-period` (detail: 'day' or 'month').
 */
@customElement('device-usage-panel')
export class DeviceUsagePanel extends LitElement {
  static override styles = [viewStyles, css`
    .usage td.bar { width: 50%; min-width: 6rem; vertical-align: middle; }
    .usage .progress { height: 0.75rem; }
    .usage .n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
    .tabs { display: inline-flex; gap: 0.25rem; margin-bottom: 0.5rem; }
    .tabs button[aria-pressed=true] { background: var(--hub-accent); border-color: var(--hub-accent); color: var(--hub-accent-fg); }
  `]

  @property({ attribute: false }) usage: Usage | null = null
  /** The device's plan (for its name), once loaded. */
  @property({ attribute: false }) plan: Plan | null = null
  @property() period: 'day' | 'month' = 'day'

  protected readonly i18n = new LocaleController(this)

  protected override render () {
    const usage = this.usage
    const plan = usage?.plan
    const rows = (usage?.items ?? []).slice(-(this.period === 'day' ? 14 : 12)).reverse()
    const peak = Math.max(1, ...rows.map(r => r.bytesUp + r.bytesDown))
    const percent = plan ? (plan.usedBytes / Math.max(plan.quotaBytes, 1)) * 100 : 0
    const tab = (period: 'day' | 'month') => html`<button type="button" data-usage-period=${period} aria-pressed=${this.period === period ? 'true' : 'false'}
      @click=${() => this.dispatchEvent(new CustomEvent('usage-period', { detail: period }))}>${t(`usage.${period}s`)}</button>`
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
            <thead><tr><th>${t(`usage.${this.period}`)}</th><th>${t('usage.total')}</th><th class="n">${t('usage.up')}</th><th class="n">${t('usage.down')}</th></tr></thead>
            <tbody>${rows.map(r => html`<tr data-usage-row>
              <td>${formatPeriod(r.periodStart, this.period)}</td>
              <td class="bar"><div class="progress" title=${formatBytes(r.bytesUp + r.bytesDown)}><span class="active" data-width=${`${((r.bytesUp + r.bytesDown) / peak) * 100}%`}></span></div></td>
              <td class="n">${formatBytes(r.bytesUp)}</td><td class="n">${formatBytes(r.bytesDown)}</td>
            </tr>`)}</tbody></table></div>`}
      </section>`
  }

  protected override updated (): void {
    // widths through the CSSOM: the page's CSP allows no inline style attributes
    for (const span of this.renderRoot.querySelectorAll<HTMLElement>('.progress > span[data-width]')) span.style.width = span.dataset.width ?? '0'
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'device-usage-panel': DeviceUsagePanel
  }
}
