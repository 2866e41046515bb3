import type { ApiClient } from './api-client.ts'
import type { Operator } from './console-types.ts'
import type { DevicePage } from './types.ts'

/** The operators the hub knows (GET /api/operators), for the fleet's operator filter. */
export async function listOperators (api: ApiClient, signal?: AbortSignal): Promise<Operator[]> {
  return (await api.request<{ items: Operator[] }>('GET', '/api/operators', { signal })).items
}

/** The ids of the devices with a profile of `operator` on their eUICC: the hub knows (GET
 * /api/devices?operator=), the fleet store does not, so the table intersects its list with these. */
export async function devicesOfOperator (api: ApiClient, operator: string, signal?: AbortSignal): Promise<Set<string>> {
  const ids = new Set<string>()
  let cursor: string | null = null
  do {
    const page: DevicePage = await api.request<DevicePage>('GET', '/api/devices', { query: { operator, limit: 1000, cursor }, signal })
    for (const device of page.items) ids.add(device.id)
    cursor = page.nextCursor
  } while (cursor)
  return ids
}
