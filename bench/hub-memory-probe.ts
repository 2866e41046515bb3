import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Preloaded into a hub the bench starts as a child process (`node --expose-gc --import tsx --import
 * ./bench/hub-memory-probe.ts server/main.ts`; node:cluster workers inherit the flags): with
 * BENCH_MEMORY_PROBE_DIR set, each process writes `<pid>.json` there at start and, on SIGWINCH (ignored
 * by default, and not among the signals the hub stops on, unlike SIGUSR2), collects
 * garbage (four times, 250 ms apart, as the in-process benches do) and writes its `process.memoryUsage()`
 * again with `gcExposed`. It reads nothing of the hub: the bench's view of a process's live memory. */
const dir = process.env.BENCH_MEMORY_PROBE_DIR
if (dir !== undefined && dir !== '') {
  const write = (extra: Record<string, unknown>): void => {
    const file = join(dir, `${process.pid}.json`)
    writeFileSync(file + '.tmp', JSON.stringify({ ...process.memoryUsage(), at: Date.now(), ...extra }))
    renameSync(file + '.tmp', file)
  }
  let seq = 0
  write({ seq })
  process.on('SIGWINCH', () => {
    const n = ++seq
    const collect = async (): Promise<void> => {
      for (let i = 0; i < 4; i++) { global.gc?.(); await new Promise((resolve) => setTimeout(resolve, 250)) }
      write({ seq: n, gcExposed: typeof global.gc === 'function' })
    }
    collect().catch((err: Error) => { process.stderr.write(`memory probe: ${err.message}\n`) })
  })
}
