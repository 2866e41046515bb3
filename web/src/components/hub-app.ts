import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { provide } from '@lit/context'
import { ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext, fleetContext, routerContext } from '../data/context.ts'
import { EventStream } from '../data/event-stream.ts'
import { FleetStore } from '../data/fleet-store.ts'
import { OpenAlerts } from '../data/open-alerts.ts'
import { SessionStore, type Session } from '../data/session-store.ts'
import { LocaleController, locale, localeNames, locales, setLocale, t, type Locale } from '../i18n/index.ts'
import { Router, type Route } from '../router.ts'
import { formatCount } from './format.ts'
import './sign-in-form.ts'
import './fleet-summary.ts'
import './fleet-table.ts'
import './admin-panel.ts'
import './device-page.ts'
import './campaigns-view.ts'
import './alerts-view.ts'
import './sites-view.ts'
import './live-banner.ts'

type Section = 'fleet' | 'campaigns' | 'alerts' | 'sites' | 'admin'

/**
 * The dashboard's root: the sign-in form when nobody is signed in, otherwise the header and the view the
 * URL names (web/src/router.ts). Each session gets its own event stream and fleet store, so signing out
 * (or a 401) drops everything the previous user saw.
 */
@customElement('hub-app')
export class HubApp extends LitElement {
  static override styles = css`
    :host {
      display: grid;
      grid-template-rows: auto auto minmax(0, 1fr);
      grid-template-columns: minmax(0, 1fr);
      height: 100%;
      min-height: 0;
    }
    header {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.4rem 1rem;
      padding: 0.45rem 1rem;
      background: var(--hub-bar-bg);
      color: var(--hub-bar-fg);
    }
    .brand {
      font-size: 1.05rem;
      font-weight: 600;
      letter-spacing: 0.02em;
      color: inherit;
      text-decoration: none;
    }
    nav {
      display: flex;
      gap: 0.25rem;
      overflow-x: auto;
      scrollbar-width: none;
    }
    nav a {
      color: inherit;
      opacity: 0.8;
      text-decoration: none;
      padding: 0.3rem 0.6rem;
      border-radius: var(--hub-radius);
      white-space: nowrap;
      font-size: 0.9rem;
    }
    nav a:hover { opacity: 1; background: rgb(255 255 255 / 0.08); }
    nav a[aria-current=page] { opacity: 1; background: rgb(255 255 255 / 0.16); font-weight: 600; }
    .count { display: inline-block; margin-left: 0.35rem; padding: 0 0.4rem; border-radius: 0.6rem; background: var(--hub-danger); color: #fff; font-size: 0.75rem; font-weight: 600; line-height: 1.2rem; }
    a:focus-visible, button:focus-visible, select:focus-visible { outline: 2px solid var(--hub-accent); outline-offset: 1px; }
    .tools {
      margin-left: auto;
      display: flex;
      align-items: center;
      gap: 0.6rem;
      font-size: 0.875rem;
    }
    .user { opacity: 0.85; max-width: 16rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    button, select {
      font: inherit;
      font-size: 0.875rem;
      color: inherit;
      background: transparent;
      border: 1px solid rgb(255 255 255 / 0.45);
      border-radius: var(--hub-radius);
      padding: 0.25rem 0.6rem;
      cursor: pointer;
    }
    select option { color: var(--hub-fg); background: var(--hub-surface); }
    main {
      min-height: 0;
      display: flex;
      flex-direction: column;
      overflow: auto;
    }
    main.fleet { overflow: hidden; }
    .center {
      grid-row: 2 / 4;
      display: grid;
      place-items: center;
      padding: 1rem;
    }
    .missing { padding: 2rem 1rem; }
    @media (max-width: 40rem) {
      header { padding: 0.4rem 0.6rem; gap: 0.3rem 0.6rem; }
      nav { order: 3; flex-basis: 100%; flex-wrap: wrap; }
      .user { display: none; }
    }
  `

  readonly #session = new SessionStore()
  protected readonly i18n = new LocaleController(this)

  @provide({ context: apiContext })
  readonly api = new ApiClient(this.#session)

  @provide({ context: routerContext })
  readonly router = new Router()

  @provide({ context: eventStreamContext })
  @state()
  stream: EventStream | undefined

  @provide({ context: fleetContext })
  @state()
  fleet: FleetStore | undefined

  @state()
  private session: Session | null = this.#session.current

  @state()
  private route: Route = this.router.route

  /** The open alerts' count in the header, live from the same stream. */
  #alerts: OpenAlerts | undefined
  #release: Array<() => void> = []

  override connectedCallback (): void {
    super.connectedCallback()
    this.#release = [
      this.#session.subscribe(session => { this.session = session }),
      this.router.start(),
      this.router.subscribe(route => {
        this.route = route
        window.scrollTo(0, 0)
      })
    ]
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    for (const release of this.#release) release()
    this.#release = []
    this.#endSession()
  }

  protected override willUpdate (changed: PropertyValues): void {
    // one stream and one store per signed-in session, created before the fleet view renders
    if (changed.has('session') || (this.session && !this.fleet)) {
      const previous = changed.get('session') as Session | null | undefined
      if (!this.session) {
        this.#endSession()
      } else if (!this.fleet || previous?.user.id !== this.session.user.id) {
        this.#endSession()
        this.stream = new EventStream(this.api)
        this.fleet = new FleetStore(this.api, this.stream)
        this.#alerts = new OpenAlerts(this.api, this.stream, () => this.requestUpdate())
      }
      this.router.setAdmin(this.session?.user.role === 'admin')
      this.route = this.router.route
    }
  }

  protected override updated (): void {
    document.title = `${this.#title()} · euicc-hub`
  }

  protected override render () {
    const session = this.session
    if (!session) {
      return html`
        <header><span class="brand">euicc-hub</span><span class="tools">${this.#localePicker()}</span></header>
        <div class="center"><sign-in-form></sign-in-form></div>
      `
    }
    const isAdmin = session.user.role === 'admin'
    const section = sectionOf(this.route)
    const link = (name: Section, href: string, label: string) =>
      html`<a href=${href} aria-current=${section === name ? 'page' : 'false'} data-nav=${name}>${label}</a>`
    return html`
      <header>
        <a class="brand" href="/">euicc-hub</a>
        <nav aria-label=${t('nav.label')}>
          ${link('fleet', '/', t('nav.fleet'))}
          ${link('campaigns', '/campaigns', t('nav.campaigns'))}
          ${this.#alertsLink(section === 'alerts')}
          ${link('sites', '/sites', t('nav.sites'))}
          ${link('admin', '/admin', isAdmin ? t('nav.admin') : t('nav.account'))}
        </nav>
        <span class="tools">
          ${this.#localePicker()}
          <span class="user" title=${`${session.user.email} · ${session.user.role}`}>${session.user.email} · ${t(`role.${session.user.role}` as 'role.admin')}</span>
          <button type="button" @click=${this.#signOut}>${t('header.signOut')}</button>
        </span>
      </header>
      <live-banner></live-banner>
      ${this.#renderView(isAdmin)}
    `
  }

  #renderView (isAdmin: boolean) {
    const route = this.route
    switch (route.view) {
      case 'fleet':
        return html`<main class="fleet"><fleet-summary></fleet-summary><fleet-table></fleet-table></main>`
      case 'device':
        return html`<main><device-page .deviceId=${route.id} .role=${this.session?.user.role ?? 'viewer'}></device-page></main>`
      case 'campaigns':
        return html`<main><campaigns-view .role=${this.session?.user.role ?? 'viewer'}></campaigns-view></main>`
      case 'alerts':
        return html`<main><alerts-view .role=${this.session?.user.role ?? 'viewer'}></alerts-view></main>`
      case 'sites':
        return html`<main><sites-view .role=${this.session?.user.role ?? 'viewer'}></sites-view></main>`
      case 'admin':
        return html`<main><admin-panel .page=${route.page} ?admin=${isAdmin}></admin-panel></main>`
      default:
        return html`<main><p class="missing" role="alert">${t('app.notFound')} <a href="/">${t('app.toFleet')}</a></p></main>`
    }
  }

  #alertsLink (current: boolean) {
    const open = this.#alerts?.count ?? 0
    const text = formatCount(open) + (this.#alerts?.more ? '+' : '')
    return html`<a href="/alerts" aria-current=${current ? 'page' : 'false'} data-nav="alerts" data-open-alerts=${open}
      title=${t('alerts.openCount', { count: text })}>${t('nav.alerts')}${open > 0 ? html`<span class="count" aria-label=${t('alerts.openCount', { count: text })}>${text}</span>` : null}</a>`
  }

  #localePicker () {
    const current = locale()
    return html`<select aria-label=${t('header.language')} data-locale-picker @change=${(event: Event) => setLocale((event.target as HTMLSelectElement).value as Locale)}>
      ${locales.map(code => html`<option value=${code} lang=${code} ?selected=${code === current}>${localeNames[code]}</option>`)}
    </select>`
  }

  #title (): string {
    if (!this.session) return t('signIn.title')
    switch (this.route.view) {
      case 'fleet': return t('nav.fleet')
      case 'device': return t('device.title')
      case 'campaigns': return t('nav.campaigns')
      case 'alerts': return t('nav.alerts')
      case 'sites': return t('nav.sites')
      case 'admin': return t(`admin.tab.${this.route.page}`)
      default: return t('app.notFound')
    }
  }

  #signOut = (): void => {
    this.api.logout().catch(() => {})
  }

  #endSession (): void {
    this.#alerts?.close()
    this.#alerts = undefined
    this.stream?.close()
    this.stream = undefined
    this.fleet = undefined
  }
}

function sectionOf (route: Route): Section | null {
  switch (route.view) {
    case 'fleet':
    case 'device':
      return 'fleet'
    case 'not-found':
      return null
    default:
      return route.view
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'hub-app': HubApp
  }
}
