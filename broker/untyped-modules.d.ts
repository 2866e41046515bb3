// aedes-persistence-redis ships no types; broker/redis-stores.ts names the part of it the hub calls.
declare module 'aedes-persistence-redis' {
  const factory: (opts: object) => object
  export default factory
}
