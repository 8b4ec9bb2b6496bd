/**
 * pglisten/protocol for Node, Bun and Deno: the runtime-neutral protocol layer (portable.ts)
 * with Node's Platform bound, so connect() opens node:net sockets. The "workerd" export
 * condition resolves to workers.ts instead. Never imports the listener. Imports portable.ts and
 * node.ts (connect() and Node's Platform) only.
 */
export * from './portable.ts'
export { connect, nodePlatform } from './node.ts'
