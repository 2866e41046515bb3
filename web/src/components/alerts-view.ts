import { LitElement, html } from 'lit'
import { customElement } from 'lit/decorators.js'
import { LocaleController, t } from '../i18n/index.ts'
import { viewStyles } from './shared-styles.ts'

@customElement('alerts-view')
export class AlertsView extends LitElement {
  static override styles = viewStyles
  protected readonly i18n = new LocaleController(this)

  protected override render () {
    return html`<h2>${t('nav.alerts')}</h2>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'alerts-view': AlertsView
  }
}
