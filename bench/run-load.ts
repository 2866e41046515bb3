import { Worker } from 'node:worker_threads'
import type { LoadResult, LoadSpec } from './load-worker.ts'

/** Runs a load in a worker thread, so the load generator has its own event loop. With `whileHolding`, the
 * connections stay open after publishing until it resolves. */
export function runLoad (spec: LoadSpec, whileHolding?: () => Promise<void>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker-entry.js', import.meta.url), { workerData: { ...spec, hold: whileHolding !== undefined } })
    worker.on('message', (msg: LoadResult & { error?: string, phase?: string }) => {
      if (msg.phase === 'holding') {
        (whileHolding as () => Promise<void>)().then(() => worker.postMessage('release'), reject)
        return
      }
      worker.terminate().catch(() => {})
      if (msg.error !== undefined) reject(new Error(msg.error))
      else resolve(msg)
    })
    worker.once('error', reject)
  })
}
