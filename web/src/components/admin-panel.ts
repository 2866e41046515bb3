import { LitElement, css, html } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext } from '../data/context.ts'

interface UserItem { id: string, email: string, role: string, disabled: boolean, totpEnabled: boolean }
interface ApiKeyItem { id: string, name: string, role: string, createdAt: string, lastUsedAt: string | null, revokedAt: string | null }
interface AuditItem { id: number, at: string, actorType: string, actorId: string | null, action: string, target: string | null, outcome: string, ip: string | null }
type Verify = { ok: true, rows: number } | { ok: false, firstBrokenId: number, reason: string }

const ROLES = ['admin', 'operator', 'technician', 'viewer']

/** Administration: users, API keys, the audit log with its chain status, and the signed-in user's own
 * TOTP enrolment. Everything is rendered as text (names, emails, audit fields come from users). */
@customElement('admin-panel')
export class AdminPanel extends LitElement {
  static override styles = css`
    :host { display: block; padding: 1rem; overflow: auto; font-size: 0.9rem; }
    nav { display: flex; gap: 0.5rem; margin-bottom: 1rem; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--hub-border, #ddd); }
    form { display: flex; gap: 0.5rem; flex-wrap: wrap; margin: 0.75rem 0; }
    .ok { color: var(--hub-ok, green); } .bad, .error { color: var(--hub-danger, #b00); }
    .secret { font-family: monospace; user-select: all; word-break: break-all; }
  `

  @consume({ context: apiContext })
  api!: ApiClient

  @property({ type: Boolean }) admin = false

  @state() private tab: 'users' | 'keys' | 'audit' | 'totp' = 'users'
  @state() private users: UserItem[] = []
  @state() private keys: ApiKeyItem[] = []
  @state() private audit: AuditItem[] = []
  @state() private verify: Verify | null = null
  @state() private shownKey = ''
  @state() private enrolment: { qrCode: string, secret: string } | null = null
  @state() private recovery: string[] = []
  @state() private error = ''

  override connectedCallback (): void {
    super.connectedCallback()
    if (!this.admin) this.tab = 'totp'
    this.#load().catch(() => {})
  }

  async #load (): Promise<void> {
    this.error = ''
    try {
      if (this.tab === 'users') this.users = (await this.api.request<{ items: UserItem[] }>('GET', '/api/users')).items
      if (this.tab === 'keys') this.keys = (await this.api.request<{ items: ApiKeyItem[] }>('GET', '/api/api-keys')).items
      if (this.tab === 'audit') {
        this.audit = (await this.api.request<{ items: AuditItem[] }>('GET', '/api/audit', { query: { limit: 200 } })).items
        this.verify = await this.api.request<Verify>('GET', '/api/audit/verify')
      }
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : 'Loading failed.'
    }
  }

  #show (tab: AdminPanel['tab']): void {
    this.tab = tab
    this.#load().catch(() => {})
  }

  async #act (work: () => Promise<unknown>): Promise<void> {
    this.error = ''
    try {
      await work()
      await this.#load()
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : 'The request failed.'
    }
  }

  protected override render () {
    return html`
      <nav>
        ${this.admin
          ? html`<button @click=${() => this.#show('users')}>Users</button>
            <button @click=${() => this.#show('keys')}>API keys</button>
            <button @click=${() => this.#show('audit')}>Audit log</button>`
          : null}
        <button @click=${() => this.#show('totp')}>Two-factor sign-in</button>
      </nav>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${this.tab === 'users' ? this.#renderUsers() : this.tab === 'keys' ? this.#renderKeys() : this.tab === 'audit' ? this.#renderAudit() : this.#renderTotp()}
    `
  }

  #renderUsers () {
    const create = (event: SubmitEvent) => {
      event.preventDefault()
      const form = new FormData(event.currentTarget as HTMLFormElement)
      this.#act(() => this.api.request('POST', '/api/users', { body: { email: form.get('email'), password: form.get('password'), role: form.get('role') } })).catch(() => {})
    }
    return html`
      <form @submit=${create}>
        <input name="email" type="email" placeholder="email" required>
        <input name="password" type="password" placeholder="initial password (12+)" autocomplete="new-password" required>
        <select name="role">${ROLES.map((r) => html`<option>${r}</option>`)}</select>
        <button type="submit">Add user</button>
      </form>
      <table><thead><tr><th>Email</th><th>Role</th><th>TOTP</th><th>Status</th></tr></thead><tbody>
        ${this.users.map((u) => html`<tr>
          <td>${u.email}</td>
          <td><select @change=${(e: Event) => this.#act(() => this.api.request('PATCH', `/api/users/${u.id}`, { body: { role: (e.target as HTMLSelectElement).value } }))}>
            ${ROLES.map((r) => html`<option ?selected=${r === u.role}>${r}</option>`)}</select></td>
          <td>${u.totpEnabled ? 'on' : 'off'}</td>
          <td><button @click=${() => this.#act(() => this.api.request('PATCH', `/api/users/${u.id}`, { body: { disabled: !u.disabled } }))}>${u.disabled ? 'Enable' : 'Disable'}</button></td>
        </tr>`)}
      </tbody></table>`
  }

  #renderKeys () {
    const create = (event: SubmitEvent) => {
      event.preventDefault()
      const form = new FormData(event.currentTarget as HTMLFormElement)
      this.#act(async () => {
        const created = await this.api.request<{ key: string }>('POST', '/api/api-keys', { body: { name: form.get('name'), role: form.get('role') } })
        this.shownKey = created.key
      }).catch(() => {})
    }
    return html`
      <form @submit=${create}>
        <input name="name" placeholder="key name" required maxlength="100">
        <select name="role">${ROLES.map((r) => html`<option>${r}</option>`)}</select>
        <button type="submit">Create key</button>
      </form>
      ${this.shownKey ? html`<p>Copy this key now; it is not shown again: <span class="secret">${this.shownKey}</span></p>` : null}
      <table><thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Last used</th><th></th></tr></thead><tbody>
        ${this.keys.map((k) => html`<tr>
          <td>${k.name}</td><td>${k.role}</td><td>${k.createdAt}</td><td>${k.lastUsedAt ?? '—'}</td>
          <td>${k.revokedAt ? 'revoked' : html`<button @click=${() => this.#act(() => this.api.request('DELETE', `/api/api-keys/${k.id}`))}>Revoke</button>`}</td>
        </tr>`)}
      </tbody></table>`
  }

  #renderAudit () {
    const v = this.verify
    return html`
      <p data-chain>${v === null ? 'Checking the chain…' : v.ok ? html`<span class="ok">Chain intact (${v.rows} rows)</span>` : html`<span class="bad">Chain broken at row ${v.firstBrokenId}: ${v.reason}</span>`}</p>
      <table><thead><tr><th>#</th><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Outcome</th><th>Address</th></tr></thead><tbody>
        ${this.audit.map((r) => html`<tr><td>${r.id}</td><td>${r.at}</td><td>${r.actorType}:${r.actorId ?? '—'}</td><td>${r.action}</td><td>${r.target ?? ''}</td><td>${r.outcome}</td><td>${r.ip ?? ''}</td></tr>`)}
      </tbody></table>`
  }

  #renderTotp () {
    const start = () => this.#act(async () => { this.enrolment = await this.api.request<{ qrCode: string, secret: string }>('POST', '/api/auth/totp/enroll') })
    const confirm = (event: SubmitEvent) => {
      event.preventDefault()
      const code = String(new FormData(event.currentTarget as HTMLFormElement).get('code') ?? '')
      this.#act(async () => {
        this.recovery = (await this.api.request<{ recoveryCodes: string[] }>('POST', '/api/auth/totp/confirm', { body: { code } })).recoveryCodes
        this.enrolment = null
      }).catch(() => {})
    }
    if (this.recovery.length > 0) {
      return html`<p>Two-factor sign-in is on. Keep these recovery codes somewhere safe; each works once:</p>
        <ul>${this.recovery.map((c) => html`<li class="secret">${c}</li>`)}</ul>`
    }
    if (this.enrolment !== null) {
      return html`<p>Scan this code with an authenticator app, then enter the code it shows.</p>
        <img src=${this.enrolment.qrCode} alt="TOTP enrolment QR code" width="200" height="200">
        <p>Or enter the key by hand: <span class="secret">${this.enrolment.secret}</span></p>
        <form @submit=${confirm}><input name="code" inputmode="numeric" pattern="[0-9]{6}" required autocomplete="one-time-code"><button type="submit">Confirm</button></form>`
    }
    return html`<p>Protect your account with a code from an authenticator app at sign-in.</p><button @click=${start}>Set up two-factor sign-in</button>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'admin-panel': AdminPanel
  }
}
