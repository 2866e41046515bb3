import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { freePort } from '../test/helpers/free-port.ts'

/** A hub started as a user starts it (`node --import tsx server/main.ts`, settings in the environment),
 * in a process group of its own, with bench/hub-memory-probe.ts preloaded to read each process's memory. */
export interface HubProcess {
  httpUrl: string
  mqttUrl: string
  /** The processes holding connections: the workers with HUB_WORKERS > 1, else the hub itself. */
  pids: number[]
  /** Every process's memory after collections (SIGWINCH to the probe) and its open sockets. */
  memory (): Promise<ProcessMemory[]>
  /** SIGTERM to the group (the hub's graceful stop), SIGKILL to it after `graceMs`. */
  stop (graceMs?: number): Promise<void>
  /** SIGKILL to the group at once (a bench that is being interrupted). */
  abort (): void
}

export interface ProcessMemory { pid: number, rss: number, heapUsed: number, heapTotal: number, external: number, sockets: number, gcExposed: boolean }

const root = fileURLToPath(new URL('..', import.meta.url))
const probe = fileURLToPath(new URL('./hub-memory-probe.ts', import.meta.url))

/** The VmRSS of `pid` in bytes, from /proc. */
function rssOf (pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? 0 : Number(match[1]) * 1024
}

/** The sockets `pid` has open (its MQTT connections, and a few to the database and Redis). */
function socketsOf (pid: number): number {
  let n = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try { if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++ } catch {} // closed meanwhile
  }
  return n
}

async function probed (dir: string, pid: number, seq: number, deadline: number): Promise<Record<string, number | boolean>> {
  const file = join(dir, `${pid}.json`)
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number | boolean>
      if (data.seq === seq) return data
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`hub process ${pid} wrote no memory figures`)
}

/** Starts the hub with `env` (on free ports, logs at info on stdout, which is parsed for each process's
 * 'euicc-hub listening') and resolves once `workers` processes listen. */
export async function startHubProcess (env: Record<string, string>, workers: number, startTimeoutMs = 180_000): Promise<HubProcess> {
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const probeDir = mkdtempSync(join(tmpdir(), 'bench-hub-memory-'))
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--import', probe, 'server/main.ts'], {
    cwd: root,
    detached: true, // its own process group: stop() reaches the workers even if the primary is stuck
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HUB_HOST: '127.0.0.1', HUB_HTTP_PORT: String(httpPort), HUB_MQTT_PORT: String(mqttPort), HUB_WORKERS: String(workers), HUB_LOG_LEVEL: 'info', BENCH_MEMORY_PROBE_DIR: probeDir, ...env }
  })
  const group = child.pid as number
  const tail: string[] = []
  let reported = 0
  const note = (line: string): void => {
    tail.push(line)
    if (tail.length > 20) tail.shift()
  }
  const listening: number[] = []
  let onListening = (): void => {}
  createInterface({ input: child.stderr }).on('line', note)
  createInterface({ input: child.stdout }).on('line', (line) => {
    let entry: { msg?: string, pid?: number, level?: number } = {}
    try { entry = JSON.parse(line) } catch { note(line); return }
    if (entry.msg === 'euicc-hub listening' && typeof entry.pid === 'number') { listening.push(entry.pid); onListening() }
    if ((entry.level ?? 0) >= 50) {
      note(line)
      if (reported++ < 10) process.stderr.write(`hub: ${line}\n`)
    }
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const kill = (signal: NodeJS.Signals): void => { try { process.kill(-group, signal) } catch {} }
  const stop = async (graceMs = 30_000): Promise<void> => {
    kill('SIGTERM')
    const timer = setTimeout(() => kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
    kill('SIGKILL') // any worker left behind
    rmSync(probeDir, { recursive: true, force: true })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hub: ${listening.length} of ${workers} processes listening after ${startTimeoutMs} ms\n${tail.join('\n')}`)), startTimeoutMs)
      onListening = () => { if (listening.length >= workers) { clearTimeout(timer); resolve() } }
      exited.then((code) => { clearTimeout(timer); reject(new Error(`hub exited with ${String(code)} while starting\n${tail.join('\n')}`)) }, () => {})
      onListening()
    })
  } catch (err) {
    await stop(5000)
    throw err
  }
  const pids = [...listening]
  let seq = 0
  return {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    pids,
    async memory () {
      const n = ++seq
      for (const pid of pids) {
        if (!existsSync(join(probeDir, `${pid}.json`))) throw new Error(`hub process ${pid} has no memory probe`)
        process.kill(pid, 'SIGWINCH')
      }
      const deadline = Date.now() + 60_000
      return await Promise.all(pids.map(async (pid) => {
        const data = await probed(probeDir, pid, n, deadline)
        return { pid, rss: rssOf(pid), heapUsed: Number(data.heapUsed), heapTotal: Number(data.heapTotal), external: Number(data.external), sockets: socketsOf(pid), gcExposed: data.gcExposed === true }
      }))
    },
    stop,
    abort: () => { kill('SIGKILL') }
  }
}
