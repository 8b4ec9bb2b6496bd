/**
 * pglisten/changes: the change feeds' triggers and decoders on their own, for code that installs
 * a trigger (a migration) or decodes payloads itself, with any connection. listener.changes()
 * and listener.ddlChanges() load what they need of these by themselves, so the listener's entry
 * point does not carry them. Runtime-neutral: SQL text and pure decoders.
 */
export * from './listener/changes/index.ts'
