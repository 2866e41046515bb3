// Files that hold secrets (device credentials, private keys): written whole (temporary file, then
// rename) and readable by the owner only.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export async function writeSecretFile (path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode: 0o600 })
  await rename(tmp, path)
}

export async function readJsonFile (path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw Object.assign(new Error(`${path} is not valid JSON: ${(err as Error).message}`), { code: 'SIM_ERR_BAD_FILE' })
  }
}
