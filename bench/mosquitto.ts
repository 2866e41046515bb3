import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { accepting, freePort } from '../test/helpers/free-port.ts'

/** The `mosquitto` binary (MOSQUITTO_BIN, else the first on PATH or in /usr/sbin), or null. */
export function mosquittoBinary (): string | null {
  const candidates = [process.env.MOSQUITTO_BIN, 'mosquitto', '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].filter((c): c is string => c !== undefined && c !== '')
  for (const bin of candidates) {
    const probe = spawnSync(bin, ['-h'], { encoding: 'utf8' })
    if (probe.error === undefined && /mosquitto version/i.test(probe.stdout + probe.stderr)) return bin
  }
  return null
}

export interface RunningMosquitto { url: string, version: string, stop: () => Promise<void> }

/** Starts `bin` on a free loopback port with a minimal config: anonymous clients, no persistence, and no
 * inflight or queue limit (so a QoS 1 subscriber is sent every message, as by bare Aedes). */
export async function startMosquitto (bin: string): Promise<RunningMosquitto> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'))
  const config = join(dir, 'mosquitto.conf')
  writeFileSync(config, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'max_inflight_messages 0',
    'max_queued_messages 0',
    'log_dest none',
    ''
  ].join('\n'))
  const version = (spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout.match(/mosquitto version (\S+)/i)?.[1]) ?? 'unknown'
  const child: ChildProcess = spawn(bin, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<never>((resolve, reject) => child.once('exit', (code) => reject(new Error(`mosquitto exited with ${String(code)}: ${stderr.trim()}`))))
  try {
    await Promise.race([accepting(port, Date.now() + 5000, 'mosquitto'), exited])
  } catch (err) {
    child.kill()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  exited.catch(() => {})
  return {
    url: `mqtt://127.0.0.1:${port}`,
    version,
    stop: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await gone
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
