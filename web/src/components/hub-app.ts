import { LitElement, css, html, type PropertyValues } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { provide } from '@lit/context'
import { ApiClient } from '../data/api-client.ts'
import { apiContext, eventStreamContext, fleetContext } from '../data/context.ts'
import { EventStream } from '../data/event-stream.ts'
import { FleetStore } from '../data/fleet-store.ts'
import { SessionStore, type Session } from '../data/session-store.ts'
import './sign-in-form.ts'
import './fleet-summary.ts'
import './fleet-table.ts'
import './admin-panel.ts'

/**
 * The dashboard's root: the sign-in form when nobody is signed in, the fleet
 * view otherwise. Each session gets its own event stream and fleet store, so
 * signing out (or a 401) drops everything the previous user saw.
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
      align-items: center;
      gap: 1rem;
      padding: 0.5rem 1rem;
      background: var(--hub-bar-bg);
      color: var(--hub-bar-fg);
    }
    h1 {
      font-size: 1.05rem;
      font-weight: 600;
      margin: 0;
      letter-spacing: 0.02em;
    }
    .user {
      margin-left: auto;
      font-size: 0.875rem;
      opacity: 0.85;
    }
    button {
      font: inherit;
      font-size: 0.875rem;
      color: inherit;
      background: transparent;
      border: 1px solid currentColor;
      border-radius: var(--hub-radius);
      padding: 0.25rem 0.75rem;
      cursor: pointer;
    }
    main {
      min-height: 0;
      display: flex;
      flex-direction: column;
    }
    main.admin {
      grid-row: 2 / 4;
      overflow: auto;
    }
    .center {
      grid-row: 2 / 4;
      display: grid;
      place-items: center;
      padding: 1rem;
    }
  `

  readonly #session = new SessionStore()

  @provide({ context: apiContext })
  readonly api = new ApiClient(this.#session)

  @provide({ context: eventStreamContext })
  @state()
  stream: EventStream | undefined

  @provide({ context: fleetContext })
  @state()
  fleet: FleetStore | undefined

  @state()
  private session: Session | null = this.#session.current

  /** The administration view (users, API keys, audit, own TOTP) instead of the fleet. */
  @state()
  private showAdmin = false

  #unsubscribe: (() => void) | null = null

  override connectedCallback (): void {
    super.connectedCallback()
    this.#unsubscribe = this.#session.subscribe(session => { this.session = session })
  }

  override disconnectedCallback (): void {
    super.disconnectedCallback()
    this.#unsubscribe?.()
    this.#unsubscribe = null
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
      }
    }
  }

  protected override render () {
    const session = this.session
    if (!session) {
      return html`
        <header><h1>euicc-hub</h1></header>
        <div class="center"><sign-in-form></sign-in-form></div>
      `
    }
    return html`
      <header>
        <h1>euicc-hub</h1>
        <span class="user">${session.user.email} · ${session.user.role}</span>
        <button type="button" @click=${() => { this.showAdmin = !this.showAdmin }}>${this.showAdmin ? 'Fleet' : session.user.role === 'admin' ? 'Admin' : 'Account'}</button>
        <button type="button" @click=${this.#signOut}>Sign out</button>
      </header>
      ${this.showAdmin
        ? html`<main class="admin"><admin-panel ?admin=${session.user.role === 'admin'}></admin-panel></main>`
        : html`<fleet-summary></fleet-summary><main><fleet-table></fleet-table></main>`}
    `
  }

  #signOut = (): void => {
    this.api.logout().catch(() => {})
  }

  #endSession (): void {
    this.stream?.close()
    this.stream = undefined
    this.fleet = undefined
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'hub-app': HubApp
  }
}
