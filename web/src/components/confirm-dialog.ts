import { LitElement, css, html } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import { t } from '../i18n/index.ts'

/** A modal question (native `<dialog>`: focus trapped, Escape cancels). Use `confirmAction()`. */
@customElement('confirm-dialog')
export class ConfirmDialog extends LitElement {
  static override styles = css`
    dialog {
      border: 1px solid var(--hub-border);
      border-radius: calc(var(--hub-radius) * 2);
      background: var(--hub-surface);
      color: var(--hub-fg);
      padding: 1.25rem;
      max-width: min(28rem, calc(100vw - 2rem));
      box-sizing: border-box;
    }
    dialog::backdrop { background: rgb(0 0 0 / 0.45); }
    p { margin: 0 0 1rem; line-height: 1.5; }
    .actions { display: flex; gap: 0.5rem; justify-content: flex-end; flex-wrap: wrap; }
    button {
      font: inherit;
      font-size: 0.9rem;
      padding: 0.4rem 0.9rem;
      border-radius: var(--hub-radius);
      border: 1px solid var(--hub-border);
      background: var(--hub-surface);
      color: var(--hub-fg);
      cursor: pointer;
    }
    button.danger { background: var(--hub-danger); border-color: var(--hub-danger); color: #fff; }
    button:focus-visible { outline: 2px solid var(--hub-accent); outline-offset: 1px; }
  `

  @property() message = ''
  @property() confirmLabel = ''
  @query('dialog') private dialog!: HTMLDialogElement
  #resolve: ((ok: boolean) => void) | null = null

  ask (): Promise<boolean> {
    return new Promise(resolve => {
      this.#resolve = resolve
      this.updateComplete.then(() => this.dialog.showModal(), () => resolve(false))
    })
  }

  protected override render () {
    return html`<dialog aria-label=${t('confirm.title')} @close=${() => this.#finish(this.dialog.returnValue === 'ok')}>
      <form method="dialog">
        <p>${this.message}</p>
        <div class="actions">
          <button value="cancel" autofocus>${t('confirm.cancel')}</button>
          <button value="ok" class="danger" data-confirm>${this.confirmLabel || t('confirm.ok')}</button>
        </div>
      </form>
    </dialog>`
  }

  #finish (ok: boolean): void {
    this.#resolve?.(ok)
    this.#resolve = null
    this.remove()
  }
}

/** Asks before a destructive action; resolves true when the user confirmed. */
export function confirmAction (message: string, confirmLabel = ''): Promise<boolean> {
  const dialog = document.createElement('confirm-dialog')
  dialog.message = message
  dialog.confirmLabel = confirmLabel
  document.body.append(dialog)
  return dialog.ask()
}

declare global {
  interface HTMLElementTagNameMap {
    'confirm-dialog': ConfirmDialog
  }
}
