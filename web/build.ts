// Builds the dashboard into web/dist: `npm run build:web`, or buildWeb() from a test.
import { build } from 'esbuild'
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'

const webDir = dirname(fileURLToPath(import.meta.url))
const staticFiles = ['index.html', 'app.css', 'favicon.svg']

export interface WebBuildResult {
  outdir: string
  /** Size of app.js in bytes. */
  rawBytes: number
  /** Size of app.js gzipped (level 9) in bytes. */
  gzipBytes: number
}

/** Served compressed: each of these gets a `.br` and a `.gz` beside it (the server picks by
 * Accept-Encoding, @fastify/static `preCompressed`). */
const compressible = /\.(js|css|html|svg)$/

/**
 * Bundles web/src/main.ts into `outdir`/app.js (ESM, minified, ES2022, with a
 * separate source map that app.js does not name and the server refuses to
 * serve: no public source map) and copies the static files beside it, each
 * text file also precompressed (brotli and gzip). Each file is written under
 * a temporary name and renamed, so a server reading `outdir` meanwhile never
 * sees half a file. Names are not content-hashed, so the server keeps its
 * default caching (revalidation by ETag / Last-Modified).
 */
export async function buildWeb (options: { outdir?: string } = {}): Promise<WebBuildResult> {
  const outdir = resolve(options.outdir ?? join(webDir, 'dist'))
  const result = await build({
    entryPoints: { app: join(webDir, 'src/main.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'external',
    legalComments: 'none',
    tsconfig: resolve(webDir, '..', 'tsconfig.json'),
    write: false,
    logLevel: 'warning'
  })
  await mkdir(outdir, { recursive: true })
  let rawBytes = 0
  let gzipBytes = 0
  for (const file of result.outputFiles) {
    await writeAtomically(file.path, file.contents)
    if (compressible.test(file.path)) await writeCompressed(file.path, file.contents)
    if (file.path.endsWith('.js')) {
      rawBytes = file.contents.byteLength
      gzipBytes = gzipSync(file.contents, { level: 9 }).byteLength
    }
  }
  for (const name of staticFiles) {
    const temporary = join(outdir, `.${process.pid}.${++temporaryCount}.tmp`)
    await copyFile(join(webDir, name), temporary)
    await rename(temporary, join(outdir, name))
    if (compressible.test(name)) await writeCompressed(join(outdir, name), await readFile(join(outdir, name)))
  }
  return { outdir, rawBytes, gzipBytes }
}

let temporaryCount = 0

async function writeAtomically (path: string, contents: Uint8Array): Promise<void> {
  const temporary = join(dirname(path), `.${process.pid}.${++temporaryCount}.tmp`)
  await writeFile(temporary, contents)
  await rename(temporary, path)
}

async function writeCompressed (path: string, contents: Uint8Array): Promise<void> {
  await writeAtomically(path + '.gz', gzipSync(contents, { level: 9 }))
  await writeAtomically(path + '.br', brotliCompressSync(contents, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: contents.byteLength } }))
}

function kilobytes (bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outdir, rawBytes, gzipBytes } = await buildWeb()
  console.log(`web: ${outdir}/app.js ${kilobytes(rawBytes)} raw, ${kilobytes(gzipBytes)} gzipped`)
}
