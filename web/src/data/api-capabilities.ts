/** Which API routes this hub has (its OpenAPI document, GET /docs/json, read once per page load), so a
 * view can leave out what an older or newer hub does not offer instead of asking and getting a 404. */
let paths: Promise<Set<string>> | null = null

export function apiPaths (): Promise<Set<string>> {
  paths ??= fetch('/docs/json', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
    .then(async response => response.ok ? new Set(Object.keys(((await response.json()) as { paths?: object }).paths ?? {})) : new Set<string>())
    .catch(() => new Set<string>())
  return paths
}

export async function hasApi (path: string): Promise<boolean> {
  return (await apiPaths()).has(path)
}
