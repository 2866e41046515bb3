import { parentPort } from 'node:worker_threads'
import { check, CheckerState, inspect } from './notification-check.ts'
import type { WireReply, WireRequest } from './verify-pool.ts'

/** One verify pool worker (`verify-pool.ts`): answers each request with the verdicts of its notifications,
 * in order. Its parsed anchors and verified chains stay here between requests. */
const state = new CheckerState()
const port = parentPort
if (port === null) throw new Error('verify-worker.ts runs as a worker thread of the verify pool')

port.on('message', (request: WireRequest) => {
  const ders = request.ends.map((end, i) => new Uint8Array(request.bytes, i === 0 ? 0 : request.ends[i - 1], end - (i === 0 ? 0 : request.ends[i - 1])))
  const results = request.kind === 'inspect'
    ? ders.map((der) => inspect(der))
    : ders.map((der, i) => check(state, request.sets, { ...request.items[i], der }))
  const reply: WireReply = { id: request.id, results }
  port.postMessage(reply)
})
