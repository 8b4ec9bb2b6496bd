/*
 * libpq-listener: the end-to-end benchmark's reference listener, in C with libpq, written to
 * do exactly what bench/e2e/listener-child.ts does for the Node clients: connect, LISTEN,
 * print "ready", receive the warm-up batch, print "warm", receive the measured batch, and
 * print one JSON line (the ListenerReport of bench/e2e/workloads.ts).
 *
 *   libpq-listener CONNINFO CHANNEL MODE WARMUP COUNT CHECK PAYLOAD SAMPLES
 *     MODE   stream | latency   (latency: the payload is the sender's CLOCK_MONOTONIC ns;
 *                                print "a" after each notification)
 *     CHECK  seq | length | none
 *     SAMPLES  how many times to sample RSS, evenly by notifications received (0: never)
 *
 * The loop is the one libpq's documentation gives for asynchronous notification (libpq
 * example program 2): wait for the socket to be readable, PQconsumeInput, then PQnotifies
 * until it returns NULL. Compiled by bench/e2e/build.ts at bench time.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define COUNTER_DIGITS 8    /* workloads.ts: counterDigits */
#define SENDER_BASE 10000000L /* workloads.ts: senderBase */

static struct {
  const char *mode, *check;
  long warmup, count, payload, samples;
} spec;

static int measuring, latency_mode;
static long received, errors;
static long long first_ns, ready_rss_kb;
static long last_seq[10];
static struct rusage cpu_start;
static long long *latencies;
static long long (*samples)[3];
static long sample_count, sample_capacity;
static long long sample_start;
static long sample_every, next_sample;
static volatile sig_atomic_t stop_requested;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Resident set in KiB: /proc/self/statm's second field, in pages. */
static long long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *statm = fopen("/proc/self/statm", "r");
  if (statm) {
    if (fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(statm);
  }
  return (long long)resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static long long timeval_us(struct timeval tv) { return (long long)tv.tv_sec * 1000000LL + tv.tv_usec; }

static void sample(void) {
  long long at = now_ns();
  if (sample_count == sample_capacity) {
    sample_capacity = sample_capacity ? 2 * sample_capacity : 256;
    samples = realloc(samples, sizeof *samples * sample_capacity);
    if (!samples) abort();
  }
  samples[sample_count][0] = (at - sample_start) / 1000000;
  samples[sample_count][1] = rss_kb();
  samples[sample_count][2] = received;
  sample_count++;
  next_sample = received + sample_every;
}

static void start_measuring(void) {
  measuring = 1;
  received = errors = 0;
  memset(last_seq, 0, sizeof last_seq);
  if (spec.samples > 0) {
    sample_start = now_ns();
    sample();
  }
  getrusage(RUSAGE_SELF, &cpu_start);
  fputs("warm\n", stdout);
  fflush(stdout);
}

static void finish(int incomplete) {
  long long last_ns = now_ns();
  struct rusage cpu;
  getrusage(RUSAGE_SELF, &cpu);
  printf("{\"client\":\"libpq\",\"received\":%ld,\"errors\":%ld,\"firstNs\":%lld,\"lastNs\":%lld,"
         "\"userUs\":%lld,\"systemUs\":%lld,\"maxRssKb\":%ld,\"readyRssKb\":%lld",
         received, errors, first_ns, last_ns,
         timeval_us(cpu.ru_utime) - timeval_us(cpu_start.ru_utime),
         timeval_us(cpu.ru_stime) - timeval_us(cpu_start.ru_stime),
         cpu.ru_maxrss, ready_rss_kb);
  if (latency_mode) {
    fputs(",\"latenciesNs\":[", stdout);
    for (long i = 0; i < received && i < spec.count; i++) printf(i ? ",%lld" : "%lld", latencies[i]);
    fputs("]", stdout);
  }
  if (spec.samples > 0) {
    fputs(",\"samples\":[", stdout);
    for (long i = 0; i < sample_count; i++) printf(i ? ",[%lld,%lld,%lld]" : "[%lld,%lld,%lld]", samples[i][0], samples[i][1], samples[i][2]);
    fputs("]", stdout);
  }
  printf("%s}\n", incomplete ? ",\"incomplete\":true" : "");
  fflush(stdout);
  exit(incomplete ? 1 : 0);
}

/* The per-notification work every listener of the benchmark does (listener-child.ts: onPayload). */
static void on_payload(const char *payload) {
  size_t length = strlen(payload);
  received++;
  if (latency_mode) {
    long long latency = now_ns() - strtoll(payload, NULL, 10);
    if (measuring) latencies[received - 1] = latency;
    fputs("a\n", stdout);
    fflush(stdout);
  } else if ((long)length != spec.payload) {
    errors++;
  } else if (strcmp(spec.check, "seq") == 0) {
    long value = 0;
    for (size_t i = length - COUNTER_DIGITS; i < length; i++) value = value * 10 + (payload[i] - '0');
    long sender = value / SENDER_BASE, seq = value - sender * SENDER_BASE;
    if (sender < 0 || sender > 9) errors++;
    else {
      if (seq != last_seq[sender] + 1) errors++;
      last_seq[sender] = seq;
    }
  }
  if (!measuring) {
    if (received == spec.warmup) start_measuring();
    return;
  }
  if (received == 1) first_ns = now_ns();
  if (received == next_sample) sample();
  if (received == spec.count) finish(0);
}

static void on_sigterm(int signal) {
  (void)signal;
  stop_requested = 1;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s CONNINFO CHANNEL MODE WARMUP COUNT CHECK PAYLOAD SAMPLES\n", argv[0]);
    return 2;
  }
  const char *conninfo = argv[1], *channel = argv[2];
  spec.mode = argv[3];
  spec.warmup = atol(argv[4]);
  spec.count = atol(argv[5]);
  spec.check = argv[6];
  spec.payload = atol(argv[7]);
  spec.samples = atol(argv[8]);
  sample_every = spec.samples > 0 ? (spec.count + spec.samples - 1) / spec.samples : 0;
  next_sample = spec.samples > 0 ? sample_every : -1;
  latency_mode = strcmp(spec.mode, "latency") == 0;
  if (latency_mode && !(latencies = calloc(spec.count, sizeof *latencies))) return 2;

  /* No SA_RESTART: poll() returns EINTR, and the loop reports how far it got. */
  struct sigaction action = {0};
  action.sa_handler = on_sigterm;
  sigaction(SIGTERM, &action, NULL);

  PGconn *conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "libpq-listener: %s", PQerrorMessage(conn));
    return 2;
  }
  char *quoted = PQescapeIdentifier(conn, channel, strlen(channel));
  char listen[128];
  snprintf(listen, sizeof listen, "LISTEN %s", quoted);
  PQfreemem(quoted);
  PGresult *result = PQexec(conn, listen);
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    fprintf(stderr, "libpq-listener: LISTEN failed: %s", PQerrorMessage(conn));
    return 2;
  }
  PQclear(result);

  ready_rss_kb = rss_kb();
  measuring = spec.warmup == 0;
  if (measuring) getrusage(RUSAGE_SELF, &cpu_start);
  fputs("ready\n", stdout);
  fflush(stdout);

  struct pollfd socket = {.fd = PQsocket(conn), .events = POLLIN};
  for (;;) {
    if (stop_requested) finish(1);
    if (poll(&socket, 1, -1) < 0) {
      if (errno == EINTR) continue;
      perror("libpq-listener: poll");
      return 2;
    }
    if (!PQconsumeInput(conn)) {
      fprintf(stderr, "libpq-listener: %s", PQerrorMessage(conn));
      finish(1);
    }
    PGnotify *notify;
    while ((notify = PQnotifies(conn)) != NULL) {
      on_payload(notify->extra);
      PQfreemem(notify);
    }
  }
}
