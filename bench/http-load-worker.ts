import { Agent, request } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'
import { build } from 'hdr-histogram-js'

/** An HTTP latency client in a worker thread (its own event loop): for each query in turn, `concurrency`
 * clients on keep-alive connections send `requests` GETs (cycling through the query's paths, after
 * `warmup` unmeasured ones) with a bearer token; the time from send to the end of the body, HDR. */
export interface HttpLoadSpec {
  baseUrl: string
  token: string
  concurrency: number
  requests: number
  warmup: number
  queries: Array<{ name: string, paths: string[] }>
}

export interface QueryLatency { name: string, requests: number, errors: number, statuses: Record<string, number>, meanBytes: number, p50Ms: number, p90Ms: number, p99Ms: number, maxMs: number, perSecond: number }

const agent = new Agent({ keepAlive: true, maxSockets: 64 })

function get (url: string, token: string): Promise<{ status: number, bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => { bytes += chunk.byteLength })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

async function one (spec: HttpLoadSpec, query: HttpLoadSpec['queries'][number]): Promise<QueryLatency> {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
  let issued = 0
  let errors = 0
  let bytes = 0
  const statuses: Record<string, number> = {}
  const total = spec.warmup + spec.requests
  let measuredFrom = 0
  const client = async (): Promise<void> => {
    while (issued < total) {
      const n = issued++
      if (n === spec.warmup) measuredFrom = performance.now()
      const url = spec.baseUrl + query.paths[n % query.paths.length]
      const t0 = performance.now()
      const answer = await get(url, spec.token).catch(() => ({ status: 0, bytes: 0 }))
      const us = Math.max(1, Math.round((performance.now() - t0) * 1000))
      if (n < spec.warmup) continue
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
      if (answer.status !== 200) errors++
      bytes += answer.bytes
      histogram.recordValue(us)
    }
  }
  await Promise.all(Array.from({ length: spec.concurrency }, client))
  const seconds = (performance.now() - measuredFrom) / 1000
  const ms = (us: number): number => Number((us / 1000).toFixed(2))
  return {
    name: query.name,
    requests: spec.requests,
    errors,
    statuses,
    meanBytes: Math.round(bytes / Math.max(1, spec.requests)),
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    perSecond: Math.round(spec.requests / seconds)
  }
}

async function run (spec: HttpLoadSpec): Promise<QueryLatency[]> {
  const out: QueryLatency[] = []
  for (const query of spec.queries) out.push(await one(spec, query))
  return out
}

if (parentPort !== null) {
  run(workerData as HttpLoadSpec).then((result) => parentPort?.postMessage({ result }), (err: Error) => parentPort?.postMessage({ error: err.message }))
}
