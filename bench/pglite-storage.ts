/** Where a benchmark's embedded database keeps its files: `directory` (a new temporary data directory,
 * as `npm start` runs PGlite) unless BENCH_PGLITE_STORAGE=memory (`pglite://memory`, the tests'
 * throwaway database: its files live in the process's memory, in Emscripten's MEMFS, which copies a
 * file whole each time it outgrows its buffer). Named in every PGlite line as `pgliteStorage`. */
export const PGLITE_STORAGE: 'memory' | 'directory' = process.env.BENCH_PGLITE_STORAGE === 'memory' ? 'memory' : 'directory'
