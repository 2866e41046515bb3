import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', 'web/dist/**', 'data/**', 'coverage/**', '.tap/**', 'drizzle/**'] })
]
