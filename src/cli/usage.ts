/**
 * The text of `pglisten --help` and of each command's --help, in the layout of psql's. Pure:
 * imports the bench's defaults, the listener's reconnect and heartbeat defaults (replicate
 * reconnects with the same backoff) and the server's payload limit, so the text cannot drift
 * from them.
 */
import { Backoff } from '../listener/backoff.ts'
import { Liveness } from '../listener/liveness.ts'
import { payloadLimitBytes } from '../listener/sql.ts'
import type { HelpTopic } from './args.ts'
import { benchDefaults } from './bench/args.ts'
import { stampWidth } from './bench/payload.ts'

/** The listener's defaults, in seconds, read from the objects that apply them. */
const backoff = new Backoff()
const heartbeat = new Liveness(undefined, { connection: () => undefined, reading: () => false, answered() {}, dead() {} })
const listenDefaults = { minDelay: backoff.minDelay / 1000, maxDelay: backoff.maxDelay / 1000, heartbeat: heartbeat.interval / 1000 }

const connection = `Connection options:
  CONNINFO                 a connection string, as the first argument:
                           postgresql://user@host:port/dbname?sslmode=require
                           or "host=... port=... dbname=..."
  -h, --host=HOSTNAME      server host or Unix socket folder (PGHOST)
  -p, --port=PORT          server port (PGPORT)
  -U, --username=USERNAME  user name (PGUSER)
  -d, --dbname=DBNAME      database name or connection string (PGDATABASE);
                           with -d, no argument is a connection string
  -w, --no-password        never ask for a password
  -W, --password           ask for a password before connecting (terminal
                           only)
      --connect-timeout=SECONDS
                           give up connecting to a host after SECONDS, a
                           whole number; 0 waits forever (connect_timeout,
                           PGCONNECT_TIMEOUT; this option wins over both)
      --trace              print every protocol message to stderr, secrets
                           redacted

Settings not given come from the PG* environment variables (PGHOST, PGPORT,
PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE, PGCONNECT_TIMEOUT, PGAPPNAME, ...)
and the password file (~/.pgpass, PGPASSFILE), as in psql; a connection
string's settings win over -h, -p and -U. Without -w or -W, a password is asked
for when the server wants one that no setting gives, if standard input is a
terminal. The application name in pg_stat_activity is "pglisten COMMAND"
unless application_name or PGAPPNAME says otherwise.
`

const general = `pglisten: PostgreSQL LISTEN/NOTIFY from the command line.

Usage:
  pglisten listen [OPTION]... [CONNINFO] CHANNEL...
  pglisten replicate [OPTION]... [CONNINFO] --slot=NAME --publication=NAME...
  pglisten notify [OPTION]... [CONNINFO] CHANNEL [PAYLOAD]
  pglisten bench [OPTION]... [CONNINFO]
  pglisten help [COMMAND]

Commands:
  listen      print every notification on the channels as a JSON line
  replicate   print every change a replication slot streams as a JSON line
  notify      send a notification, or one per line of standard input
  bench       measure notification throughput, latency and listener CPU time

Options:
  --help       show this help, then exit
  -V, --version
               show the version, then exit (after a command too)

Every command takes the connection options of psql; see pglisten COMMAND --help.
An error is one line on standard error; the exit status is then 2 for a
mistake on the command line, 1 otherwise.
`

/** `pglisten help --help`: the help command's own, as `git help --help` is git-help's. */
const help = `pglisten help: show the help of pglisten or of one of its commands.

Usage:
  pglisten help [COMMAND]

Without COMMAND, shows pglisten's own help, as pglisten --help does: its
commands and options. With COMMAND (listen, replicate, notify, bench or help),
shows that command's, as pglisten COMMAND --help does.

Options:
  -?, --help   show this help, then exit
`

const listen = `pglisten listen: print notifications as JSON lines.

Usage:
  pglisten listen [OPTION]... [CONNINFO] CHANNEL...

Listens on each CHANNEL, its name exactly as given (case kept, as a quoted
identifier), and prints every notification on standard output, one JSON
object per line, written whole:
  {"channel":"jobs","payload":"42","pid":4711,"received_at":"2026-01-02T03:04:05.678Z"}
pid is the notifying backend's process ID, received_at the time pglisten read
it (UTC, to the millisecond). Status lines go to standard error.

A lost connection is reopened, with backoff, and every channel listened on
again; what was sent meanwhile is not heard, and status lines say so:
  pglisten: connection lost at 2026-01-02T03:04:05.678Z: FATAL: terminating
    connection due to administrator command (SQLSTATE 57P01); reconnecting
  pglisten: reconnecting: attempt 1 in 0.19 s
  pglisten: reconnected (backend pid 4712): notifications between
    2026-01-02T03:04:05.678Z and 2026-01-02T03:04:06.012Z may have been lost
A failed attempt's error is printed once, and not again while the attempts
after it fail the same way; one that will not pass by itself (a refused
password, a database that is gone) is explained. The first connection is not
retried. SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal closed) closes the
connection and exits with status 0; giving up after --max-attempts exits with
status 1.

Options:
      --json-payload       print each payload as the JSON value it holds,
                           as written; one that holds none is printed as
                           text, with a "payload_error" field saying why
      --gaps               also print each gap on standard output, with why:
                           {"gap":{"from":"2026-...Z","to":"2026-...Z",
                           "cause":"FATAL: terminating connection ..."}}
      --reconnect-delay=MIN[,MAX]
                           the wait before reconnecting, in seconds: up to
                           MIN (and at least half of it) at first, doubling
                           after each failed attempt up to MAX (default
                           ${listenDefaults.minDelay},${listenDefaults.maxDelay}; without MAX, ${listenDefaults.maxDelay} or MIN if longer)
      --max-attempts=N     give up after N failed attempts in a row
                           (default: never)
      --heartbeat=SECONDS  send a Sync message every SECONDS; the connection
                           is taken for lost if nothing arrives for as long
                           while one waits (default ${listenDefaults.heartbeat}; 0: none)
      --help               show this help, then exit

${connection}`

const replicate = `pglisten replicate: print a replication slot's changes as JSON lines.

Usage:
  pglisten replicate [OPTION]... [CONNINFO] --slot=NAME --publication=NAME...

Streams the changes to the tables of each publication (CREATE PUBLICATION)
from the logical replication slot NAME, with pgoutput, and prints each on
standard output, one JSON object per line, in commit order:
  {"lsn":"0/1764378","xid":740,"commit_time":"2026-12-05T10:00:00.000Z",
   "commit_lsn":"0/1764450","seq":1,"relation":"public.orders","op":"insert",
   "key":{"id":1},"row":{"id":1,"total":"9.50"}}
seq is the change's place in its transaction. relation is schema.table, each
name double-quoted where SQL would need it. op is insert, update, delete or
truncate. key holds the replica identity's
columns (the primary key, by default); an update or delete adds "old", the
whole old row, when the table has REPLICA IDENTITY FULL; a delete has no
"row"; a truncate has "relations", "cascade" and "restart_identity" instead
of "relation", "key" and "row". Values are as node-postgres reads them:
numbers, booleans, JSON; numeric and bigint as text; date, timestamp and
timestamptz as PostgreSQL writes them (timestamptz in UTC, microseconds
kept); bytea as its hex text,
\\x0a0b; a TOASTed value the update left alone as {"unchanged_toast":true}.
Status lines go to standard error.

A change is acknowledged once its line is written; the slot moves past a
transaction once all of it is, and the server is told every few seconds.
SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal closed) lets the transaction
being printed finish, tells the server and exits with status 0, so that a
restart with the same slot repeats nothing (a second SIGINT or SIGTERM stops
at once; a second SIGHUP is the same hang-up told again). After a crash or
kill -9 a restart loses nothing and prints again, whole, the transactions the
server was not yet told of: commit_lsn and seq identify a change. A lost
connection is reopened, with backoff, and resumes the same way; the first is
not retried. A slot keeps the server's WAL until its changes are read: drop
one no longer used, with SELECT pg_drop_replication_slot('NAME').

The user needs the REPLICATION attribute (or to be a superuser), and the
server PostgreSQL 14 or later with wal_level = logical.

Options:
      --slot=NAME          the logical replication slot: 1 to 63 lower-case
                           letters, digits and underscores
      --publication=NAME   a publication to stream, its name exactly as given
                           (case kept); repeat it for several
      --create             create the slot (for pgoutput) if it does not exist
      --temporary          create a temporary slot, which the server drops when
                           the connection ends, with what it held: a lost
                           connection then ends the command (status 1)
      --start=LSN          start at LSN, as 16/B374D848, if the slot has
                           confirmed less (a slot never goes back)
      --messages           also print pg_logical_emit_message's messages:
                           {"lsn":...,"op":"message","transactional":true,
                           "prefix":"jobs","content":"..."}, with xid,
                           commit_time and commit_lsn when transactional, and
                           "content_base64" for content that is not UTF-8
      --reconnect-delay=MIN[,MAX]
                           the wait before reconnecting, in seconds: up to
                           MIN (and at least half of it) at first, doubling
                           after each failed attempt up to MAX (default
                           ${listenDefaults.minDelay},${listenDefaults.maxDelay}; without MAX, ${listenDefaults.maxDelay} or MIN if longer)
      --max-attempts=N     give up after N failed attempts in a row, with
                           status 1 (default: never)
      --help               show this help, then exit

${connection}`

const notify = `pglisten notify: send notifications.

Usage:
  pglisten notify [OPTION]... [CONNINFO] CHANNEL [PAYLOAD]

Sends PAYLOAD on CHANNEL (the name exactly as given) with pg_notify(). Without
PAYLOAD, sends each line of standard input (without its line end) as a
payload, in order, over one connection, each in a transaction of its own, and
exits at the end of the input. A payload must be under ${payloadLimitBytes} bytes in the
server's encoding and hold no NUL: a line that does not is refused before it
is sent, with its line number (the lines before it have been sent), and the
exit status is 1.

Options:
      --help               show this help, then exit

${connection}`

const bench = `pglisten bench: measure a server's notification path.

Usage:
  pglisten bench [OPTION]... [CONNINFO]

Runs N listeners, each in a process of its own, and M notifiers, each sending
one NOTIFY at a time on a connection of its own, for each payload size in
turn, and prints per size:
  sent, lost        NOTIFYs committed; copies the listeners did not receive
  notify/s          NOTIFYs per second, from the first sent to the last
                    received by any listener
  deliveries/s      the same, counting each listener's copy
  p50 p90 p99 max   latency in ms: from the notifier calling query() with the
                    NOTIFY to the listener process's iterator handing it over,
                    both ends reading the machine's monotonic clock (so the
                    bench runs both here; the server may be elsewhere)
  CPU µs/notif      the listener processes' user + system CPU time per
                    notification received, in microseconds
Each payload carries its send time (${stampWidth} digits), padded to the size asked for.
The bench uses the server it is given and starts none; without --replication it
creates nothing.

Options:
      --listeners=N        listener processes (default ${benchDefaults.listeners})
      --notifiers=M        notifier connections (default ${benchDefaults.notifiers})
      --payload=BYTES[,BYTES...]
                           payload sizes, ${stampWidth} to ${payloadLimitBytes - 1} (default ${benchDefaults.payloads.join(',')})
      --count=K            NOTIFYs per payload size, shared by the notifiers
      --duration=S         or: seconds of sending per payload size (default ${benchDefaults.seconds})
      --warmup=W           NOTIFYs sent first and not measured (default ${benchDefaults.warmup})
      --json               print JSON instead of the table
      --replication        measure pglisten/replication instead: the notifiers
                           insert rows (100 per transaction) into a table of the
                           bench's own, one stream on a temporary slot decodes
                           them; prints changes/s and the lag from commit to
                           handover, then drops the table and publication
      --progress-interval=S
                           seconds between progress lines when standard error
                           is not a terminal (default ${benchDefaults.progressInterval})
      --help               show this help, then exit

Progress goes to standard error: one line rewritten in place on a terminal;
otherwise a line every S seconds and one per payload size. SIGINT (Ctrl-C),
SIGTERM or SIGHUP (the terminal closed) stops the bench: the NOTIFYs in flight
commit, the results so far are printed (the size being sent marked partial),
and it exits with 130, 143 or 129. A second SIGINT or SIGTERM quits at once.

${connection}`

export function usage(command: HelpTopic | undefined): string {
  switch (command) {
    case undefined:
      return general
    case 'help':
      return help
    case 'listen':
      return listen
    case 'replicate':
      return replicate
    case 'notify':
      return notify
    case 'bench':
      return bench
  }
}
