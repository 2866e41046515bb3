import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', 'web/dist/**', 'data/**', 'coverage/**', '.tap/**', 'scratch/**'] }),
  {
    // TypeBox's convention: a schema and its derived type share one name (`const X = Type.Object(…)`,
    // `type X = Static<typeof X>`).
    rules: { '@typescript-eslint/no-redeclare': 'off', 'no-redeclare': 'off' }
  }
]
