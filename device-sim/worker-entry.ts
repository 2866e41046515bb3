// A worker process of --workers: runs a SimEngine for its share of the devices and reports to the parent
// over IPC. Ctrl-C reaches the whole process group; the parent decides when to stop, so SIGINT is ignored
// here, and a lost parent stops the run.
import { SimEngine } from './engine.ts'
import type { FromWorker, ToWorker } from './worker-pool.ts'

let engine: SimEngine | null = null
const send = (message: FromWorker) => { if (process.connected) process.send?.(message) }

process.on('SIGINT', () => {})
process.on('disconnect', () => { engine?.stop('signal') })
process.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    engine?.stop(message.reason)
    return
  }
  if (message.type !== 'run' || engine !== null) return
  const current = new SimEngine(message.options)
  engine = current
  current.on('tick', () => send({ type: 'tick', snapshot: current.snapshot() }))
  current.once('start', () => send({ type: 'started' }))
  current.run().then(() => {
    // Exit once the report is out, whatever handles are left.
    process.send?.({ type: 'done', snapshot: current.finalSnapshot(), states: current.states() } satisfies FromWorker, undefined, {}, () => process.exit(0))
  }, (err: Error) => {
    send({ type: 'error', message: err.message })
    process.exitCode = 1
    process.disconnect?.()
  })
})
