/**
 * The signals that stop a long-running command (listen, replicate, bench) the way Ctrl-C does:
 * cleanly, never by the signal's default action. Pure: a list, with the reasons for it.
 *
 * SIGHUP is among them. Its default action kills the process at once; it comes when the
 * terminal is closed or an ssh connection drops, and so does Node's: Node resets every signal
 * to its default when it starts, so even `nohup pglisten ...` would die of it. For replicate
 * that would lose the last acknowledgement (the Standby status update close() sends: protocol
 * docs, "Streaming Replication Protocol"), and a restart would print those changes again.
 *
 * pg_recvlogical catches SIGHUP too, but only to reopen its -f output file for log rotation
 * (src/bin/pg_basebackup/pg_recvlogical.c, sighup_handler and `output_reopen`), which it
 * skips for "-f -", standard output: there it keeps running. pglisten writes to standard output
 * only, so there is nothing to reopen, and running on after a hang-up would mean writing to a
 * terminal that is gone (EIO) or for nobody. Stopping as SIGTERM does (the transaction being
 * printed finished, the server told, status 0) is what was meant by closing the terminal; one
 * who wants the command to outlive it runs it under setsid, systemd or tmux.
 */
export const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * Whether a signal that comes while the command is already stopping is to be ignored: a
 * SIGHUP is. One hang-up is often told twice (the kernel signals the terminal's foreground
 * process group, and bash, hung up itself, sends SIGHUP again to each of its jobs: bash(1),
 * SIGNALS), and the second is no user asking to stop at once, as a second Ctrl-C is.
 */
export const repeatsHangUp = (signal: unknown): boolean => signal === 'SIGHUP'

export type StopSignal = (typeof stopSignals)[number]
