import { LitElement, css, html } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext } from '../data/context.ts'
import { LocaleController, t } from '../i18n/index.ts'

/** Email and password; a successful sign-in sets the session, which switches the app to the fleet. */
@customElement('sign-in-form')
export class SignInForm extends LitElement {
  static override styles = css`
    :host {
      display: block;
      width: min(22rem, 100%);
    }
    form {
      display: grid;
      gap: 0.9rem;
      padding: 1.5rem;
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: calc(var(--hub-radius) * 2);
      box-shadow: 0 1px 3px rgb(0 0 0 / 0.08);
    }
    h2 {
      margin: 0 0 0.25rem;
      font-size: 1.2rem;
    }
    label {
      display: grid;
      gap: 0.3rem;
      font-size: 0.875rem;
      color: var(--hub-muted);
    }
    input {
      font: inherit;
      color: var(--hub-fg);
      padding: 0.5rem 0.6rem;
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      background: var(--hub-bg);
    }
    input:focus-visible, button:focus-visible {
      outline: 2px solid var(--hub-accent);
      outline-offset: 1px;
    }
    button {
      font: inherit;
      font-weight: 600;
      padding: 0.55rem;
      border: 0;
      border-radius: var(--hub-radius);
      background: var(--hub-accent);
      color: var(--hub-accent-fg);
      cursor: pointer;
    }
    button[disabled] {
      opacity: 0.6;
      cursor: progress;
    }
    .error {
      margin: 0;
      color: var(--hub-danger);
      font-size: 0.875rem;
    }
  `

  @consume({ context: apiContext })
  api!: ApiClient

  protected readonly i18n = new LocaleController(this)

  @state()
  private busy = false

  @state()
  private error = ''

  /** Set once the hub answered that this account needs a TOTP code. */
  @state()
  private needsCode = false

  protected override render () {
    return html`
      <form @submit=${this.#onSubmit} aria-labelledby="title">
        <h2 id="title">${t('signIn.title')}</h2>
        <label>${t('signIn.email')}
          <input name="email" type="email" autocomplete="username" required ?disabled=${this.busy}>
        </label>
        <label>${t('signIn.password')}
          <input name="password" type="password" autocomplete="current-password" required ?disabled=${this.busy}>
        </label>
        ${this.needsCode
          ? html`<label>${t('signIn.code')}
              <input name="totp" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required ?disabled=${this.busy}>
            </label>`
          : null}
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
        <button type="submit" ?disabled=${this.busy}>${this.busy ? t('signIn.busy') : t('signIn.submit')}</button>
      </form>
    `
  }

  #onSubmit = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault()
    if (this.busy) return
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const email = String(form.get('email') ?? '').trim()
    const password = String(form.get('password') ?? '')
    const totp = form.get('totp')
    this.busy = true
    this.error = ''
    try {
      await this.api.login(email, password, typeof totp === 'string' && totp !== '' ? totp.trim() : undefined)
      // the session changed: <hub-app> now renders the fleet in place of this form
    } catch (err) {
      if (err instanceof ApiError && err.code === 'HUB_ERR_TOTP_REQUIRED') {
        this.needsCode = true
        this.error = t('signIn.needCode')
        return
      }
      this.error = signInMessage(err)
    } finally {
      this.busy = false
    }
  }
}

function signInMessage (err: unknown): string {
  if (!(err instanceof ApiError)) return t('signIn.failed')
  if (err.code === 'HUB_ERR_INVALID_TOTP') return t('signIn.badCode')
  if (err.status === 401) return t('signIn.wrong')
  if (err.status === 503) return t('signIn.unavailable')
  if (err.status === 429) return t('signIn.tooMany')
  if (err.status === 0) return t('error.network')
  return err.message || t('signIn.failed')
}

declare global {
  interface HTMLElementTagNameMap {
    'sign-in-form': SignInForm
  }
}
