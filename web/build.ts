// Builds the dashboard into web/dist: `npm run build:web`, or buildWeb() from a test.
import { build } from 'esbuild'
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'

const webDir = dirname(fileURLToPath(import.meta.url))
const staticFiles = ['index.html', 'app.css', 'favicon.svg']
/** The Myanmar web font (@fontsource/noto-sans-myanmar, Myanmar subset, regular and semibold), served
 * from /fonts/ by the hub itself (app.css names them in @font-face): nothing from a CDN. */
const fontFiles = [400, 600].map(weight => `@fontsource/noto-sans-myanmar/files/noto-sans-myanmar-myanmar-${weight}-normal.woff2`)
const require = createRequire(import.meta.url)

export interface WebBuildResult {
  outdir: string
  /** Size of app.js (the entry, what the first page needs) in bytes. */
  rawBytes: number
  /** Size of app.js gzipped (level 9) in bytes. */
  gzipBytes: number
  /** All JavaScript, lazily loaded chunks included (the device page's charts), gzipped, in bytes. */
  totalGzipBytes: number
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
 * default caching (revalidation by ETag / Last-Modified); lazily loaded
 * chunks (chunks/, e.g. the charts) are, so an old app.js never loads a new one.
 */
export async function buildWeb (options: { outdir?: string } = {}): Promise<WebBuildResult> {
  const outdir = resolve(options.outdir ?? join(webDir, 'dist'))
  const result = await build({
    entryPoints: { app: join(webDir, 'src/main.ts') },
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'external',
    legalComments: 'none',
    // a library's stylesheet imported by a component is its text, adopted into the shadow root
    loader: { '.css': 'text' },
    tsconfig: resolve(webDir, '..', 'tsconfig.json'),
    write: false,
    logLevel: 'warning'
  })
  await mkdir(outdir, { recursive: true })
  // a page loaded before this build may still ask for the previous build's chunks: they are kept
  await mkdir(join(outdir, 'chunks'), { recursive: true })
  let rawBytes = 0
  let gzipBytes = 0
  let totalGzipBytes = 0
  for (const file of result.outputFiles) {
    await writeAtomically(file.path, file.contents)
    if (compressible.test(file.path)) await writeCompressed(file.path, file.contents)
    if (file.path.endsWith('.js')) {
      const gzipped = gzipSync(file.contents, { level: 9 }).byteLength
      totalGzipBytes += gzipped
      if (file.path === join(outdir, 'app.js')) {
        rawBytes = file.contents.byteLength
        gzipBytes = gzipped
      }
    }
  }
  await mkdir(join(outdir, 'fonts'), { recursive: true })
  for (const font of fontFiles) {
    // woff2 is compressed already: no .br/.gz beside it
    const temporary = join(outdir, 'fonts', `.${process.pid}.${++temporaryCount}.tmp`)
    await copyFile(require.resolve(font), temporary)
    await rename(temporary, join(outdir, 'fonts', basename(font)))
  }
  for (const name of staticFiles) {
    const temporary = join(outdir, `.${process.pid}.${++temporaryCount}.tmp`)
    await copyFile(join(webDir, name), temporary)
    await rename(temporary, join(outdir, name))
    if (compressible.test(name)) await writeCompressed(join(outdir, name), await readFile(join(outdir, name)))
  }
  return { outdir, rawBytes, gzipBytes, totalGzipBytes }
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
  const { outdir, rawBytes, gzipBytes, totalGzipBytes } = await buildWeb()
  console.log(`web: ${outdir}/app.js ${kilobytes(rawBytes)} raw, ${kilobytes(gzipBytes)} gzipped; all JavaScript with lazy chunks ${kilobytes(totalGzipBytes)} gzipped`)
}
