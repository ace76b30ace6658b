/* loadgen.c: the TCP load generator of bench/net.py (method: bench/README.md).
 *
 * The echo servers under test are Python programs pinned to one core; the load must
 * come from something that is never the bottleneck, so it is this small epoll client
 * in C, pinned to the other core. bench/net.py compiles it with the system's cc into
 * bench/.build/loadgen and talks to it over stdin/stdout, one line per event.
 *
 *   loadgen pingpong HOST PORT CONNS MSGSIZE SECONDS [WARMUP]
 *       CONNS connections; each sends MSGSIZE bytes, waits for the whole echo, and
 *       repeats. After WARMUP seconds (default 1) it prints "go", counts round trips
 *       for SECONDS, then prints "result roundtrips=R seconds=S rate=R/S cpu=C".
 *   loadgen bulk HOST PORT BYTES
 *       One connection streams BYTES and reads the echo back at the same time (never
 *       more than WINDOW bytes ahead of the echo, so a server buffers at most that).
 *       Prints "go", then "result bytes=B seconds=S mbps=MB/s cpu=C".
 *   loadgen idle HOST PORT N
 *       Opens N connections (each exchanges one 8-byte hello, so the server has
 *       accepted and served it) and prints "open N". Each line read on stdin then
 *       pings every connection once and prints "answered K N"; end of input closes
 *       everything and exits.
 *
 * Every echo is checked byte for byte. cpu= is this program's own CPU seconds over the
 * measured window, so the driver can show that the client is not the bottleneck.
 * HOST must be an IPv4 address (the benchmarks only use 127.0.0.1). Errors go to
 * stderr with exit status 1; bad usage exits with status 2.
 * Tests: tests/bench/test_net_smoke.py.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define CONNECT_WINDOW 100          /* connections being opened at once */
#define OPEN_TIMEOUT 120.0          /* seconds to open every connection */
#define PING_TIMEOUT 30.0           /* seconds for every idle connection to answer */
#define BULK_CHUNK (256 * 1024)
#define BULK_WINDOW (4 * 1024 * 1024)
#define IDLE_MSGSIZE 8
#define MAX_MSGSIZE 65536

enum { CONNECTING, EXCHANGING, IDLE, FAILED };

struct conn {
    int fd;
    int state;
    uint32_t events;    /* current epoll interest */
    size_t sent, got;   /* bytes of the current message sent and echoed */
    unsigned char *msg; /* this connection's message (different per connection) */
};

static int epfd;
static struct sockaddr_in server;
static size_t msgsize;
static unsigned char scratch[BULK_CHUNK];

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpuSeconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Raise the open-files soft limit to the hard limit; return the limit in force. */
static long raiseFileLimit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

static long parseCount(const char *text, const char *what, long low, long high) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || *end || value < low || value > high)
        die("%s must be a whole number from %ld to %ld, got '%s'", what, low, high, text);
    return value;
}

static double parseSeconds(const char *text, const char *what) {
    char *end;
    double value = strtod(text, &end);
    if (*end || !(value >= 0) || value > 3600)
        die("%s must be a number of seconds from 0 to 3600, got '%s'", what, text);
    return value;
}

static void setEvents(struct conn *c, uint32_t index, uint32_t events) {
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.u32 = index};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->events = events;
}

static int newSocket(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket: %s (raise the open-files limit: ulimit -n)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void startConnect(struct conn *c, uint32_t index) {
    c->fd = newSocket();
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) != 0 && errno != EINPROGRESS)
        die("connect to %s:%d: %s", inet_ntoa(server.sin_addr), ntohs(server.sin_port),
            strerror(errno));
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = index};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->events = EPOLLOUT;
    c->state = CONNECTING;
}

/* Begin sending the connection's message; the echo is awaited with EPOLLIN. */
static int startMessage(struct conn *c, uint32_t index) {
    c->sent = c->got = 0;
    c->state = EXCHANGING;
    ssize_t n = send(c->fd, c->msg, msgsize, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN)
        return -1;
    c->sent = n > 0 ? (size_t)n : 0;
    setEvents(c, index, c->sent < msgsize ? EPOLLIN | EPOLLOUT : EPOLLIN);
    return 0;
}

/* Handle readiness of a connection in a message exchange.
 * Returns 1 when the whole echo is back, 0 while it is under way, -1 on failure
 * (the reason is in errno: EPROTO for a wrong echo, ECONNRESET for a close). */
static int exchange(struct conn *c, uint32_t index, uint32_t ready) {
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            errno = err;
            return -1;
        }
        return startMessage(c, index);
    }
    if (c->state != EXCHANGING) {
        /* An idle connection stays watched for input: anything there is a fault. */
        ssize_t n = recv(c->fd, scratch, 1, 0);
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n >= 0)
            errno = n == 0 ? ECONNRESET : EPROTO;
        return -1;
    }
    if ((ready & EPOLLOUT) && c->sent < msgsize) {
        ssize_t n = send(c->fd, c->msg + c->sent, msgsize - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN)
            return -1;
        if (n > 0)
            c->sent += (size_t)n;
        if (c->sent == msgsize)
            setEvents(c, index, EPOLLIN);
    }
    if (ready & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t n = recv(c->fd, scratch, msgsize - c->got, 0);
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        if ((size_t)n > c->sent - c->got || memcmp(scratch, c->msg + c->got, (size_t)n) != 0) {
            errno = EPROTO;
            return -1;
        }
        c->got += (size_t)n;
        if (c->got == msgsize) {
            c->state = IDLE; /* still watched for input, so a close shows at once */
            return 1;
        }
    }
    return 0;
}

static void failConn(uint32_t index, const char *when) {
    die("connection %u to %s:%d failed %s: %s", index, inet_ntoa(server.sin_addr),
        ntohs(server.sin_port), when, errno == EPROTO ? "the echo differs from what was sent"
                                                      : strerror(errno));
}

/* Open n connections, CONNECT_WINDOW at a time, each completing one exchange, so that
 * the server has accepted and served every one before this returns. */
static struct conn *openConnections(long n) {
    struct conn *conns = calloc((size_t)n, sizeof *conns);
    if (!conns)
        die("out of memory");
    for (long i = 0; i < n; i++) {
        conns[i].msg = malloc(msgsize);
        if (!conns[i].msg)
            die("out of memory");
        for (size_t k = 0; k < msgsize; k++)
            conns[i].msg[k] = (unsigned char)((unsigned long)i * 131u + k * 7u + 1u);
    }
    long started = 0, done = 0;
    double deadline = now() + OPEN_TIMEOUT;
    struct epoll_event events[MAX_EVENTS];
    while (done < n) {
        while (started < n && started - done < CONNECT_WINDOW) {
            startConnect(&conns[started], (uint32_t)started);
            started++;
        }
        if (now() > deadline)
            die("only %ld of %ld connections opened within %.0f s", done, n, OPEN_TIMEOUT);
        int ready = epoll_wait(epfd, events, MAX_EVENTS, 1000);
        if (ready < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < ready; e++) {
            uint32_t i = events[e].data.u32;
            int status = exchange(&conns[i], i, events[e].events);
            if (status < 0)
                failConn(i, "while opening");
            done += status;
        }
    }
    return conns;
}

static int pingpong(long conns, double seconds, double warmup) {
    struct conn *c = openConnections(conns);
    struct epoll_event events[MAX_EVENTS];
    for (long i = 0; i < conns; i++)
        if (startMessage(&c[i], (uint32_t)i) < 0)
            failConn((uint32_t)i, "sending");
    double start = now() + warmup, end = start + seconds, cpu0 = 0;
    int measuring = 0;
    long roundtrips = 0;
    for (;;) {
        double t = now();
        if (!measuring && t >= start) {
            measuring = 1;
            roundtrips = 0;
            cpu0 = cpuSeconds();
            start = t;
            end = t + seconds;
            say("go");
        }
        if (measuring && t >= end)
            break;
        int ready = epoll_wait(epfd, events, MAX_EVENTS, 100);
        if (ready < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < ready; e++) {
            uint32_t i = events[e].data.u32;
            int status = exchange(&c[i], i, events[e].events);
            if (status < 0)
                failConn(i, "in ping-pong");
            if (status > 0) {
                roundtrips++;
                if (startMessage(&c[i], i) < 0)
                    failConn(i, "sending");
            }
        }
    }
    double elapsed = now() - start;
    say("result roundtrips=%ld seconds=%.6f rate=%.1f cpu=%.6f", roundtrips, elapsed,
        (double)roundtrips / elapsed, cpuSeconds() - cpu0);
    return 0;
}

/* Byte k of the bulk stream; the pattern repeats every 256 bytes. */
static unsigned char pattern[BULK_CHUNK + 256];

static int bulk(long long total) {
    for (size_t k = 0; k < sizeof pattern; k++)
        pattern[k] = (unsigned char)(k * 31u + 7u);
    int fd = newSocket();
    if (connect(fd, (struct sockaddr *)&server, sizeof server) != 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = 0}, events[4];
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    if (epoll_wait(epfd, events, 4, 10000) != 1)
        die("connect to %s:%d timed out", inet_ntoa(server.sin_addr), ntohs(server.sin_port));
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err)
        die("connect to %s:%d: %s", inet_ntoa(server.sin_addr), ntohs(server.sin_port),
            strerror(err));
    long long sent = 0, got = 0;
    uint32_t interest = EPOLLOUT;
    say("go");
    double cpu0 = cpuSeconds(), start = now();
    while (got < total) {
        uint32_t want = EPOLLIN;
        if (sent < total && sent - got < BULK_WINDOW)
            want |= EPOLLOUT;
        if (want != interest) {
            ev.events = interest = want;
            epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        }
        int ready = epoll_wait(epfd, events, 4, 10000);
        if (ready == 0)
            die("the server stopped echoing: %lld of %lld bytes back after 10 s idle", got,
                total);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        uint32_t what = events[0].events;
        if (what & EPOLLOUT) {
            long long room = BULK_WINDOW - (sent - got), left = total - sent;
            size_t size = BULK_CHUNK;
            if ((long long)size > room)
                size = (size_t)room;
            if ((long long)size > left)
                size = (size_t)left;
            ssize_t n = send(fd, pattern + (sent & 255), size, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN)
                die("send: %s", strerror(errno));
            if (n > 0)
                sent += n;
        }
        if (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            ssize_t n = recv(fd, scratch, sizeof scratch, 0);
            if (n == 0)
                die("the server closed the connection after echoing %lld of %lld bytes", got,
                    total);
            if (n < 0 && errno != EAGAIN)
                die("recv: %s", strerror(errno));
            if (n > 0) {
                if (got + n > sent || memcmp(scratch, pattern + (got & 255), (size_t)n) != 0)
                    die("the echo differs from what was sent at byte %lld", got);
                got += n;
            }
        }
    }
    double elapsed = now() - start;
    say("result bytes=%lld seconds=%.6f mbps=%.1f cpu=%.6f", total, elapsed,
        (double)total / elapsed / 1e6, cpuSeconds() - cpu0);
    close(fd);
    return 0;
}

static int idle(long n) {
    struct conn *c = openConnections(n);
    struct epoll_event events[MAX_EVENTS];
    say("open %ld", n);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        long pending = 0, answered = 0;
        for (long i = 0; i < n; i++) {
            if (c[i].state == FAILED)
                continue;
            if (startMessage(&c[i], (uint32_t)i) < 0) {
                close(c[i].fd);
                c[i].state = FAILED;
            } else
                pending++;
        }
        double deadline = now() + PING_TIMEOUT;
        while (pending > 0 && now() < deadline) {
            int ready = epoll_wait(epfd, events, MAX_EVENTS, 100);
            if (ready < 0 && errno != EINTR)
                die("epoll_wait: %s", strerror(errno));
            for (int e = 0; e < ready; e++) {
                uint32_t i = events[e].data.u32;
                int wasPending = c[i].state == EXCHANGING;
                int status = exchange(&c[i], i, events[e].events);
                if (status < 0) {
                    fprintf(stderr, "loadgen: connection %u: %s\n", i,
                            errno == EPROTO ? "wrong echo" : strerror(errno));
                    close(c[i].fd); /* which also takes it out of the epoll set */
                    c[i].state = FAILED;
                }
                if (wasPending && status != 0)
                    pending--;
                if (wasPending && status > 0)
                    answered++;
            }
        }
        say("answered %ld %ld", answered, n);
    }
    return 0;
}

static void usage(void) {
    fputs("usage: loadgen pingpong HOST PORT CONNS MSGSIZE SECONDS [WARMUP]\n"
          "       loadgen bulk HOST PORT BYTES\n"
          "       loadgen idle HOST PORT N\n"
          "HOST is an IPv4 address; see bench/loadgen.c for what each mode prints.\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 5)
        usage();
    const char *mode = argv[1];
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1)
        die("HOST must be an IPv4 address such as 127.0.0.1, got '%s'", argv[2]);
    server.sin_port = htons((uint16_t)parseCount(argv[3], "PORT", 1, 65535));
    long files = raiseFileLimit();
    epfd = epoll_create1(0);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    if (!strcmp(mode, "pingpong") && (argc == 7 || argc == 8)) {
        long conns = parseCount(argv[4], "CONNS", 1, files - 16);
        msgsize = (size_t)parseCount(argv[5], "MSGSIZE", 1, MAX_MSGSIZE);
        double seconds = parseSeconds(argv[6], "SECONDS");
        double warmup = argc == 8 ? parseSeconds(argv[7], "WARMUP") : 1.0;
        return pingpong(conns, seconds, warmup);
    }
    if (!strcmp(mode, "bulk") && argc == 5) {
        char *end;
        long long total = strtoll(argv[4], &end, 10);
        if (*end || total <= 0)
            die("BYTES must be a positive whole number, got '%s'", argv[4]);
        return bulk(total);
    }
    if (!strcmp(mode, "idle") && argc == 5) {
        msgsize = IDLE_MSGSIZE;
        long n = parseCount(argv[4], "N", 1, files - 16);
        return idle(n);
    }
    usage();
    return 2;
}
