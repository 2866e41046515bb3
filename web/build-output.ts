// Writing the dashboard's build output (web/build.ts): content-hashed names, precompressed copies,
// atomic writes, and pruning the assets of builds before the previous one.
import { createHash } from 'node:crypto'
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'

/** The folder of `outdir` holding the hashed assets, served with a year of immutable caching. */
export const assetsFolder = 'assets'
/** Served compressed: each of these gets a `.br` and a `.gz` beside it (the server picks by
 * Accept-Encoding, @fastify/static `preCompressed`). woff2 is compressed already. */
export const compressible = /\.(js|css|html|svg)$/
/** The asset names of the last build, so the next one keeps them and removes older ones. Not served
 * (a dotfile, and the server's allowedPath refuses it). */
const manifestName = '.assets.json'

let temporaryCount = 0

/** `name` with a hash of `contents` before its extension: `app.css` → `app-1b2c3d4e.css`. */
export function hashedName (name: string, contents: Uint8Array): string {
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 10)
  const extension = extname(name)
  return `${basename(name, extension)}-${hash}${extension}`
}

/** Written under a temporary name and renamed, so a server reading the folder never sees half a file. */
export async function writeAtomically (path: string, contents: Uint8Array | string): Promise<void> {
  const temporary = join(dirname(path), `.${process.pid}.${++temporaryCount}.tmp`)
  await writeFile(temporary, contents)
  await rename(temporary, path)
}

/** The file, and its `.gz` and `.br` when it is text; returns the names written (relative to their folder). */
export async function writeServed (path: string, contents: Uint8Array): Promise<string[]> {
  await writeAtomically(path, contents)
  const name = basename(path)
  if (!compressible.test(path)) return [name]
  await writeAtomically(path + '.gz', gzipSync(contents, { level: 9 }))
  await writeAtomically(path + '.br', brotliCompressSync(contents, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: contents.byteLength } }))
  return [name, name + '.gz', name + '.br']
}

/**
 * Removes from `outdir`/assets every file that is neither of this build (`current`) nor of the previous
 * one (a page loaded before this build may still ask for its lazily loaded chunks), and what the
 * unhashed layout of earlier versions left at the top (app.js, app.css, chunks/, fonts/).
 */
export async function pruneAssets (outdir: string, current: string[]): Promise<void> {
  const manifest = join(outdir, manifestName)
  const previous: string[] = await readFile(manifest, 'utf8').then(text => JSON.parse(text) as string[], () => [])
  const keep = new Set([...current, ...previous])
  for (const name of await readdir(join(outdir, assetsFolder))) {
    if (!keep.has(name)) await rm(join(outdir, assetsFolder, name), { force: true })
  }
  for (const name of await readdir(outdir)) {
    if (/^app\.(js|css)(\.map|\.gz|\.br)?$/.test(name) || name === 'chunks' || name === 'fonts') await rm(join(outdir, name), { recursive: true, force: true })
  }
  await writeAtomically(manifest, JSON.stringify(current))
}
