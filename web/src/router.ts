// The dashboard's URLs: one per view, on the history API, so that deep links, reloads and Back work.
// The hub answers index.html for each of these paths (server/app.ts); every other path is the hub's own.

export const adminPages = ['users', 'api-keys', 'tenants', 'trust-anchors', 'webhooks', 'audit', 'account'] as const
export type AdminPage = typeof adminPages[number]

export type Route =
  | { view: 'fleet' }
  | { view: 'device', id: string }
  | { view: 'campaigns' }
  | { view: 'alerts' }
  | { view: 'sites' }
  | { view: 'admin', page: AdminPage }
  | { view: 'not-found', path: string }

/** The route a path names; `/admin` alone is its first page the user may see (`account` for non-admins). */
export function parseRoute (pathname: string, admin = true): Route {
  const parts = pathname.split('/').filter(part => part !== '')
  if (parts.length === 0) return { view: 'fleet' }
  const [head, second, ...rest] = parts
  if (rest.length > 0) return { view: 'not-found', path: pathname }
  if (head === 'devices' && second !== undefined) {
    let id: string
    try {
      id = decodeURIComponent(second)
    } catch {
      return { view: 'not-found', path: pathname }
    }
    return { view: 'device', id }
  }
  if (second === undefined && (head === 'campaigns' || head === 'alerts' || head === 'sites')) return { view: head }
  if (head === 'admin') {
    if (second === undefined) return { view: 'admin', page: admin ? 'users' : 'account' }
    if ((adminPages as readonly string[]).includes(second)) return { view: 'admin', page: second as AdminPage }
  }
  return { view: 'not-found', path: pathname }
}

export function routePath (route: Route): string {
  switch (route.view) {
    case 'fleet': return '/'
    case 'device': return `/devices/${encodeURIComponent(route.id)}`
    case 'admin': return `/admin/${route.page}`
    case 'not-found': return route.path
    default: return `/${route.view}`
  }
}

export function devicePath (id: string): string {
  return routePath({ view: 'device', id })
}

type Listener = (route: Route) => void

/**
 * The current location as a route. `navigate()` pushes a history entry; Back and Forward (popstate)
 * move between them. Clicks on same-origin `<a href>` anywhere in the app, shadow roots included, are
 * taken over (no reload), so components link with plain anchors, which keyboards and middle-clicks
 * handle as links. The query string belongs to the view (the fleet's filters live there).
 */
export class Router {
  readonly #listeners = new Set<Listener>()
  #route: Route
  #admin = true

  constructor () {
    this.#route = parseRoute(location.pathname)
  }

  get route (): Route {
    return this.#route
  }

  /** Whether the user is an admin: decides where `/admin` leads. */
  setAdmin (admin: boolean): void {
    this.#admin = admin
    this.#update()
  }

  start (): () => void {
    const onPop = (): void => this.#update()
    const onClick = (event: MouseEvent): void => this.#onClick(event)
    window.addEventListener('popstate', onPop)
    document.addEventListener('click', onClick)
    return () => {
      window.removeEventListener('popstate', onPop)
      document.removeEventListener('click', onClick)
    }
  }

  subscribe (listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Goes to `path` (with its query), as a new history entry, or in place of the current one. */
  navigate (path: string, options: { replace?: boolean } = {}): void {
    const url = new URL(path, location.href)
    if (url.origin !== location.origin) return
    const target = url.pathname + url.search + url.hash
    if (target === location.pathname + location.search + location.hash) return
    if (options.replace) history.replaceState(null, '', target)
    else history.pushState(null, '', target)
    this.#update()
  }

  /** Rewrites the query string of the current entry (a view's filters), without a new history entry. */
  replaceQuery (params: URLSearchParams): void {
    const search = params.toString()
    history.replaceState(history.state, '', location.pathname + (search ? `?${search}` : '') + location.hash)
  }

  #update (): void {
    const next = parseRoute(location.pathname, this.#admin)
    if (routePath(next) === routePath(this.#route) && next.view === this.#route.view) {
      this.#route = next
      return
    }
    this.#route = next
    for (const listener of this.#listeners) listener(next)
  }

  #onClick (event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    const anchor = event.composedPath().find((node): node is HTMLAnchorElement => node instanceof HTMLAnchorElement)
    if (!anchor || !anchor.href || anchor.target || anchor.hasAttribute('download')) return
    const url = new URL(anchor.href)
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/docs')) return
    event.preventDefault()
    this.navigate(url.pathname + url.search + url.hash)
  }
}
