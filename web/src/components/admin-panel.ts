import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { consume } from '@lit/context'
import { ApiError, type ApiClient } from '../data/api-client.ts'
import { apiContext } from '../data/context.ts'
import type { ApiKeyItem, AuditItem, Tenant, TrustAnchor, UserItem } from '../data/console-types.ts'
import { LocaleController, t, type MessageKey } from '../i18n/index.ts'
import type { AdminPage } from '../router.ts'
import { confirmAction } from './confirm-dialog.ts'
import { formatDateTime } from './format.ts'
import { viewStyles } from './shared-styles.ts'
import './webhooks-page.ts'

type Verify = { ok: true, rows: number } | { ok: false, firstBrokenId: number, reason: string }

/** Least privilege first: a new API key or user starts as a viewer unless the admin picks more. */
const ROLES = ['viewer', 'technician', 'operator', 'admin'] as const
const AUDIT_PAGE = 50

/** Administration, one page per URL (/admin/users, /admin/api-keys, /admin/tenants, /admin/trust-anchors,
 * /admin/webhooks (webhooks-page.ts), /admin/audit, /admin/account). Everything is rendered as text (names, emails, audit fields come from users). */
@customElement('admin-panel')
export class AdminPanel extends LitElement {
  static override styles = [viewStyles, css`
    nav.tabs { display: flex; flex-wrap: wrap; gap: 0.25rem; margin-bottom: 1rem; border-bottom: 1px solid var(--hub-border); }
    nav.tabs a { padding: 0.4rem 0.7rem; color: var(--hub-fg); text-decoration: none; border-bottom: 2px solid transparent; margin-bottom: -1px; }
    nav.tabs a[aria-current=page] { border-bottom-color: var(--hub-accent); font-weight: 600; }
    textarea { width: 100%; min-height: 6rem; font-family: var(--hub-mono); font-size: 0.75rem; }
    .pager { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.75rem; }
  `]

  @consume({ context: apiContext })
  api!: ApiClient

  @property({ type: Boolean }) admin = false
  @property() page: AdminPage = 'users'

  @state() private users: UserItem[] = []
  @state() private keys: ApiKeyItem[] = []
  @state() private tenants: Tenant[] = []
  @state() private anchors: TrustAnchor[] = []
  @state() private audit: AuditItem[] = []
  @state() private auditBefore: number | null = null
  @state() private auditNext: number | null = null
  @state() private auditAction = ''
  @state() private auditOutcome = ''
  @state() private verify: Verify | null = null
  @state() private shownKey = ''
  @state() private enrolment: { qrCode: string, secret: string } | null = null
  @state() private recovery: string[] = []
  @state() private error = ''
  @state() private notice = ''

  protected readonly i18n = new LocaleController(this)

  protected override willUpdate (changed: PropertyValues): void {
    if (changed.has('page') || changed.has('admin')) {
      this.shownKey = ''
      this.notice = ''
      this.#load().catch(() => {})
    }
  }

  async #load (): Promise<void> {
    this.error = ''
    const page = this.admin ? this.page : 'account'
    try {
      if (page === 'users') this.users = (await this.api.request<{ items: UserItem[] }>('GET', '/api/users')).items
      if (page === 'api-keys') this.keys = (await this.api.request<{ items: ApiKeyItem[] }>('GET', '/api/api-keys')).items
      if (page === 'tenants') this.tenants = (await this.api.request<{ items: Tenant[] }>('GET', '/api/tenants')).items
      if (page === 'trust-anchors') this.anchors = (await this.api.request<{ items: TrustAnchor[] }>('GET', '/api/euicc/trust-anchors')).items
      if (page === 'audit') await this.#loadAudit()
    } catch (err) {
      this.error = err instanceof ApiError && err.status === 403 ? t('admin.forbidden') : err instanceof ApiError ? err.message : t('error.loading')
    }
  }

  async #loadAudit (): Promise<void> {
    // actors by name: the tenant's users and API keys (loaded once per visit)
    const [page] = await Promise.all([
      this.api.request<{ items: AuditItem[], nextBefore: number | null }>('GET', '/api/audit', { query: { limit: AUDIT_PAGE, before: this.auditBefore ?? undefined, action: this.auditAction || undefined } }),
      this.users.length ? null : this.api.request<{ items: UserItem[] }>('GET', '/api/users').then(a => { this.users = a.items }, () => {}),
      this.keys.length ? null : this.api.request<{ items: ApiKeyItem[] }>('GET', '/api/api-keys').then(a => { this.keys = a.items }, () => {})
    ])
    this.audit = page.items
    this.auditNext = page.nextBefore
    if (this.verify === null) this.verify = await this.api.request<Verify>('GET', '/api/audit/verify')
  }

  async #act (work: () => Promise<unknown>, done?: MessageKey): Promise<void> {
    this.error = ''
    this.notice = ''
    try {
      await work()
      await this.#load()
      if (done) this.notice = t(done)
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : t('error.request')
    }
  }

  protected override render () {
    const page = this.admin ? this.page : 'account'
    const tab = (name: AdminPage) => html`<a href=${`/admin/${name}`} aria-current=${page === name ? 'page' : 'false'}>${t(`admin.tab.${name}`)}</a>`
    return html`
      <nav class="tabs" aria-label=${t('nav.admin')}>
        ${this.admin ? html`${tab('users')}${tab('api-keys')}${tab('tenants')}${tab('trust-anchors')}${tab('webhooks')}${tab('audit')}` : null}
        ${tab('account')}
      </nav>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : null}
      ${this.notice ? html`<p class="ok" role="status">${this.notice}</p>` : null}
      ${page === 'users'
        ? this.#renderUsers()
        : page === 'api-keys'
          ? this.#renderKeys()
          : page === 'tenants'
            ? this.#renderTenants()
            : page === 'trust-anchors'
              ? this.#renderAnchors()
              : page === 'webhooks'
                ? html`<webhooks-page></webhooks-page>`
                : page === 'audit' ? this.#renderAudit() : this.#renderTotp()}
    `
  }

  #roleOptions (selected: string) {
    return ROLES.map(r => html`<option value=${r} ?selected=${r === selected}>${t(`role.${r}`)}</option>`)
  }

  #renderUsers () {
    const create = (event: SubmitEvent) => {
      event.preventDefault()
      const formElement = event.currentTarget as HTMLFormElement
      const form = new FormData(formElement)
      this.#act(async () => {
        await this.api.request('POST', '/api/users', { body: { email: form.get('email'), password: form.get('password'), role: form.get('role') } })
        formElement.reset()
      }, 'admin.users.added').catch(() => {})
    }
    const toggle = async (u: UserItem) => {
      if (!u.disabled && !await confirmAction(t('admin.users.confirmDisable', { email: u.email }), t('admin.users.disable'))) return
      await this.#act(() => this.api.request('PATCH', `/api/users/${u.id}`, { body: { disabled: !u.disabled } }))
    }
    return html`
      <form class="inline" @submit=${create}>
        <label class="field">${t('admin.users.email')}<input name="email" type="email" required></label>
        <label class="field">${t('admin.users.password')}<input name="password" type="password" minlength="12" autocomplete="new-password" required></label>
        <label class="field">${t('admin.role')}<select name="role">${this.#roleOptions('viewer')}</select></label>
        <button type="submit" class="primary">${t('admin.users.add')}</button>
      </form>
      <div class="table-wrap"><table><thead><tr><th>${t('admin.users.email')}</th><th>${t('admin.role')}</th><th>${t('admin.users.totp')}</th><th>${t('admin.state')}</th><th></th></tr></thead><tbody>
        ${this.users.map(u => html`<tr data-user=${u.email}>
          <td class="wrap">${u.email}</td>
          <td><select aria-label=${t('admin.roleOf', { name: u.email })} @change=${(e: Event) => this.#act(() => this.api.request('PATCH', `/api/users/${u.id}`, { body: { role: (e.target as HTMLSelectElement).value } }))}>
            ${this.#roleOptions(u.role)}</select></td>
          <td>${u.totpEnabled ? t('admin.on') : t('admin.off')}</td>
          <td>${u.disabled ? html`<span class="badge bad">${t('admin.disabled')}</span>` : html`<span class="badge good">${t('admin.active')}</span>`}</td>
          <td><button type="button" class=${u.disabled ? '' : 'danger'} @click=${() => toggle(u)}>${u.disabled ? t('admin.users.enable') : t('admin.users.disable')}</button></td>
        </tr>`)}
      </tbody></table></div>`
  }

  #renderKeys () {
    const create = (event: SubmitEvent) => {
      event.preventDefault()
      const formElement = event.currentTarget as HTMLFormElement
      const form = new FormData(formElement)
      this.#act(async () => {
        const created = await this.api.request<{ key: string }>('POST', '/api/api-keys', { body: { name: form.get('name'), role: form.get('role') } })
        formElement.reset()
        this.shownKey = created.key
      }).catch(() => {})
    }
    const revoke = async (k: ApiKeyItem) => {
      if (!await confirmAction(t('admin.keys.confirmRevoke', { name: k.name }), t('admin.keys.revoke'))) return
      await this.#act(() => this.api.request('DELETE', `/api/api-keys/${k.id}`), 'admin.keys.revoked')
    }
    return html`
      <form class="inline" @submit=${create}>
        <label class="field">${t('admin.keys.name')}<input name="name" required maxlength="100"></label>
        <label class="field">${t('admin.role')}<select name="role" data-key-role>${this.#roleOptions('viewer')}</select></label>
        <button type="submit" class="primary">${t('admin.keys.create')}</button>
      </form>
      ${this.shownKey ? html`<p class="notice" role="status">${t('admin.keys.copyNow')} <span class="secret" data-secret>${this.shownKey}</span></p>` : null}
      <div class="table-wrap"><table><thead><tr><th>${t('admin.keys.name')}</th><th>${t('admin.role')}</th><th>${t('admin.created')}</th><th>${t('admin.keys.lastUsed')}</th><th></th></tr></thead><tbody>
        ${this.keys.map(k => html`<tr>
          <td>${k.name}</td><td>${t(`role.${k.role}` as 'role.admin')}</td><td>${formatDateTime(k.createdAt)}</td><td>${formatDateTime(k.lastUsedAt)}</td>
          <td>${k.revokedAt ? html`<span class="badge">${t('admin.keys.revokedAt', { at: formatDateTime(k.revokedAt) })}</span>` : html`<button type="button" class="danger" @click=${() => revoke(k)}>${t('admin.keys.revoke')}</button>`}</td>
        </tr>`)}
      </tbody></table></div>`
  }

  #renderTenants () {
    const create = (event: SubmitEvent) => {
      event.preventDefault()
      const formElement = event.currentTarget as HTMLFormElement
      const name = String(new FormData(formElement).get('name') ?? '')
      this.#act(async () => {
        await this.api.request('POST', '/api/tenants', { body: { name } })
        formElement.reset()
      }, 'admin.tenants.added').catch(() => {})
    }
    return html`
      <p class="muted">${t('admin.tenants.help')}</p>
      <form class="inline" @submit=${create}>
        <label class="field">${t('admin.tenants.name')}<input name="name" required maxlength="200"></label>
        <button type="submit" class="primary">${t('admin.tenants.add')}</button>
      </form>
      <div class="table-wrap"><table><thead><tr><th>${t('admin.tenants.name')}</th><th>ID</th><th>${t('admin.created')}</th></tr></thead><tbody>
        ${this.tenants.map(x => html`<tr><td>${x.name}</td><td class="mono">${x.id}</td><td>${formatDateTime(x.createdAt)}</td></tr>`)}
      </tbody></table></div>`
  }

  #renderAnchors () {
    const add = (event: SubmitEvent) => {
      event.preventDefault()
      const formElement = event.currentTarget as HTMLFormElement
      const certificate = String(new FormData(formElement).get('certificate') ?? '').trim()
      this.#act(async () => {
        await this.api.request('POST', '/api/euicc/trust-anchors', { body: { certificate } })
        formElement.reset()
      }, 'admin.anchors.added').catch(() => {})
    }
    const remove = async (a: TrustAnchor) => {
      if (!await confirmAction(t('admin.anchors.confirmRemove', { subject: a.subject }), t('admin.anchors.remove'))) return
      await this.#act(() => this.api.request('DELETE', `/api/euicc/trust-anchors/${encodeURIComponent(a.id)}`))
    }
    return html`
      <p class="muted">${t('admin.anchors.help')}</p>
      <form @submit=${add}>
        <label class="field">${t('admin.anchors.certificate')}<textarea name="certificate" required placeholder="-----BEGIN CERTIFICATE-----"></textarea></label>
        <p><button type="submit" class="primary">${t('admin.anchors.add')}</button></p>
      </form>
      <div class="table-wrap"><table><thead><tr><th>${t('admin.anchors.subject')}</th><th>${t('admin.anchors.scope')}</th><th>${t('admin.anchors.expires')}</th><th>${t('admin.anchors.fingerprint')}</th><th></th></tr></thead><tbody>
        ${this.anchors.map(a => html`<tr>
          <td class="wrap">${a.subject}</td><td>${a.scope === 'platform' ? t('admin.anchors.platform') : t('admin.anchors.tenant')}${a.source === 'directory' ? html` <span class="badge">${t('admin.anchors.directory')}</span>` : null}</td>
          <td>${formatDateTime(a.notAfter)}</td><td class="mono wrap">${a.fingerprint.slice(0, 23)}…</td>
          <td>${a.source === 'directory' ? null : html`<button type="button" class="danger" @click=${() => remove(a)}>${t('admin.anchors.remove')}</button>`}</td>
        </tr>`)}
      </tbody></table></div>`
  }

  #actorName (row: AuditItem): string {
    if (row.actorId === null) return t(`audit.actor.${row.actorType === 'system' ? 'system' : 'unknown'}`)
    if (row.actorType === 'user') return this.users.find(u => u.id === row.actorId)?.email ?? row.actorId
    if (row.actorType === 'api-key') {
      const key = this.keys.find(k => k.id === row.actorId)
      return key ? t('audit.actor.key', { name: key.name }) : row.actorId
    }
    return `${row.actorType}: ${row.actorId}`
  }

  #renderAudit () {
    const v = this.verify
    const rows = this.auditOutcome ? this.audit.filter(r => r.outcome === this.auditOutcome) : this.audit
    const filter = (event: SubmitEvent) => {
      event.preventDefault()
      const form = new FormData(event.currentTarget as HTMLFormElement)
      this.auditAction = String(form.get('action') ?? '').trim()
      this.auditOutcome = String(form.get('outcome') ?? '')
      this.auditBefore = null
      this.#load().catch(() => {})
    }
    const go = (before: number | null) => {
      this.auditBefore = before
      this.#load().catch(() => {})
    }
    return html`
      <p data-chain>${v === null ? t('audit.checking') : v.ok ? html`<span class="ok">${t('audit.intact', { rows: v.rows })}</span>` : html`<span class="error">${t('audit.broken', { id: v.firstBrokenId, reason: v.reason })}</span>`}</p>
      <form class="inline" @submit=${filter}>
        <label class="field">${t('audit.action')}<input name="action" .value=${this.auditAction} placeholder="user.login"></label>
        <label class="field">${t('audit.outcome')}<select name="outcome">
          <option value="">${t('audit.anyOutcome')}</option>
          ${['success', 'failure', 'denied'].map(o => html`<option value=${o} ?selected=${o === this.auditOutcome}>${o}</option>`)}
        </select></label>
        <button type="submit">${t('audit.filter')}</button>
      </form>
      <div class="table-wrap"><table><thead><tr><th>#</th><th>${t('audit.time')}</th><th>${t('audit.actor')}</th><th>${t('audit.action')}</th><th>${t('audit.target')}</th><th>${t('audit.outcome')}</th><th>${t('audit.address')}</th></tr></thead><tbody>
        ${rows.map(r => html`<tr data-audit-row><td>${r.id}</td><td title=${r.at}>${formatDateTime(r.at)}</td><td class="wrap" data-actor>${this.#actorName(r)}</td><td>${r.action}</td><td class="wrap mono">${r.target ?? ''}</td><td>${r.outcome}</td><td class="mono">${r.ip ?? ''}</td></tr>`)}
      </tbody></table></div>
      <div class="pager">
        <button type="button" ?disabled=${this.auditBefore === null} @click=${() => go(null)}>${t('audit.newest')}</button>
        <button type="button" ?disabled=${this.auditNext === null} data-older @click=${() => go(this.auditNext)}>${t('audit.older')}</button>
      </div>`
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
      return html`<p>${t('totp.on')}</p>
        <ul>${this.recovery.map(c => html`<li class="secret">${c}</li>`)}</ul>`
    }
    if (this.enrolment !== null) {
      return html`<p>${t('totp.scan')}</p>
        <img src=${this.enrolment.qrCode} alt=${t('totp.qrAlt')} width="200" height="200">
        <p>${t('totp.byHand')} <span class="secret">${this.enrolment.secret}</span></p>
        <form class="inline" @submit=${confirm}><label class="field">${t('totp.code')}<input name="code" inputmode="numeric" pattern="[0-9]{6}" required autocomplete="one-time-code"></label><button type="submit" class="primary">${t('totp.confirm')}</button></form>`
    }
    return html`<h3>${t('admin.tab.account')}</h3><p>${t('totp.intro')}</p><button type="button" class="primary" @click=${start}>${t('totp.start')}</button>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'admin-panel': AdminPanel
  }
}
