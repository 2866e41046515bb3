// A stylesheet imported by a component is bundled as its text (web/build.ts: loader '.css': 'text').
declare module '*.css' {
  const text: string
  export default text
}
