import { Worker } from 'node:worker_threads'
import type { LoadResult, LoadSpec } from './load-worker.ts'

/** Runs a load in a worker thread, so the load generator has its own event loop. */
export function runLoad (spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker-entry.js', import.meta.url), { workerData: spec })
    worker.once('message', (msg: LoadResult & { error?: string }) => {
      worker.terminate().catch(() => {})
      if (msg.error !== undefined) reject(new Error(msg.error))
      else resolve(msg)
    })
    worker.once('error', reject)
  })
}
