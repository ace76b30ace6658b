/* ircload.c: the IRC load generator of bench/irc.py (method: bench/README.md).
 *
 * The IRC servers under test are Python programs pinned to one core; the load comes
 * from this small epoll client in C, pinned to the other core, so that it is never the
 * bottleneck. bench/irc.py compiles it with the system's cc into bench/.build/ircload.
 *
 *   ircload HOST PORT CLIENTS CHANNEL DEPTH SECONDS WARMUP
 *       Opens CLIENTS connections; each registers (PASS, NICK, USER) and joins
 *       #CHANNEL, and once every one has seen the end of its NAMES reply it prints
 *       "joined CLIENTS". Then the clients take turns sending PRIVMSG #CHANNEL lines,
 *       keeping DEPTH messages in flight: a message is delivered once per member but
 *       its sender, and a new one is sent whenever fewer than DEPTH messages' worth of
 *       deliveries are outstanding (closed loop: the server never has to buffer more
 *       than DEPTH lines per client). After WARMUP seconds it prints "go", counts the
 *       deliveries for SECONDS, then prints
 *       "result deliveries=D messages=M seconds=S rate=D/S cpu=C".
 *
 * A delivery is a whole line with " PRIVMSG #CHANNEL :" in it, read by a member. cpu=
 * is this program's own CPU seconds over the measured window, so the driver can show
 * that the load generator is not the bottleneck. A connection the server closes, or
 * no progress for 30 seconds, is an error: message on stderr, exit status 1. Bad
 * usage exits with status 2. HOST must be an IPv4 address.
 * Tests: tests/words/test_service_bench.py.
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
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define READ_SIZE 65536
#define TAIL_MAX 8192
#define STALL_SECONDS 30.0

struct client {
    int fd;
    int joined;
    size_t tailLength;
    char tail[TAIL_MAX];
};

static struct client *clients;
static int clientCount;
static char marker[128];
static size_t markerLength;
static long long deliveries;
static int joinedCount;

static void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "ircload: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n");
    va_end(args);
    exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpuSeconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
           usage.ru_stime.tv_usec / 1e6;
}

static void sendAll(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* The server is not reading: wait for room (the closed loop keeps this rare). */
                struct timespec pause = {0, 100000};
                nanosleep(&pause, NULL);
                continue;
            }
            die("send: %s", strerror(errno));
        }
        data += sent;
        length -= (size_t)sent;
    }
}

/* Count the complete lines of one chunk: deliveries, and the end of the NAMES reply. */
static void consume(struct client *c, const char *data, size_t length) {
    const char *end = data + length;
    const char *line = data;
    if (c->tailLength > 0) {
        const char *newline = memchr(data, '\n', length);
        size_t take = newline ? (size_t)(newline - data + 1) : length;
        if (c->tailLength + take >= TAIL_MAX) die("a line from the server is too long");
        memcpy(c->tail + c->tailLength, data, take);
        c->tailLength += take;
        if (!newline) return;
        c->tail[c->tailLength] = '\0';
        if (memmem(c->tail, c->tailLength, marker, markerLength)) deliveries++;
        else if (!c->joined && memmem(c->tail, c->tailLength, " 366 ", 5)) {
            c->joined = 1;
            joinedCount++;
        } else if (memmem(c->tail, c->tailLength, "ERROR ", 6) == c->tail)
            die("the server closed a client: %.200s", c->tail);
        c->tailLength = 0;
        line = newline + 1;
    }
    while (line < end) {
        const char *newline = memchr(line, '\n', (size_t)(end - line));
        if (!newline) {
            size_t rest = (size_t)(end - line);
            if (rest >= TAIL_MAX) die("a line from the server is too long");
            memcpy(c->tail, line, rest);
            c->tailLength = rest;
            return;
        }
        size_t size = (size_t)(newline - line + 1);
        if (memmem(line, size, marker, markerLength)) deliveries++;
        else if (!c->joined && memmem(line, size, " 366 ", 5)) {
            c->joined = 1;
            joinedCount++;
        } else if (size >= 6 && memcmp(line, "ERROR ", 6) == 0)
            die("the server closed a client: %.*s", (int)size, line);
        line = newline + 1;
    }
}

static void readReady(int epoll, double timeout) {
    static struct epoll_event events[MAX_EVENTS];
    static char buffer[READ_SIZE];
    int ready = epoll_wait(epoll, events, MAX_EVENTS, (int)(timeout * 1000));
    if (ready < 0) {
        if (errno == EINTR) return;
        die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < ready; i++) {
        struct client *c = &clients[events[i].data.u32];
        for (;;) {
            ssize_t got = recv(c->fd, buffer, sizeof buffer, 0);
            if (got > 0) {
                consume(c, buffer, (size_t)got);
                if ((size_t)got < sizeof buffer) break;
                continue;
            }
            if (got == 0) die("the server closed client %ld", (long)(c - clients));
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            die("recv: %s", strerror(errno));
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: ircload HOST PORT CLIENTS CHANNEL DEPTH SECONDS WARMUP\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    clientCount = atoi(argv[3]);
    const char *channel = argv[4];
    long depth = atol(argv[5]);
    double seconds = atof(argv[6]), warmup = atof(argv[7]);
    if (port <= 0 || clientCount < 2 || depth < 1 || seconds <= 0 || strlen(channel) > 60) {
        fprintf(stderr, "ircload: bad arguments\n");
        return 2;
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    markerLength = (size_t)snprintf(marker, sizeof marker, " PRIVMSG #%s :", channel);
    clients = calloc((size_t)clientCount, sizeof *clients);
    if (!clients) die("out of memory");
    int epoll = epoll_create1(0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) die("HOST must be an IPv4 address");
    char line[512];
    for (int i = 0; i < clientCount; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0)
            die("connect: %s", strerror(errno));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        clients[i].fd = fd;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl: %s", strerror(errno));
        int length = snprintf(line, sizeof line,
                              "PASS bench\r\nNICK b%d\r\nUSER b%d 0 * :bench client\r\nJOIN #%s\r\n",
                              i, i, channel);
        sendAll(fd, line, (size_t)length);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0) die("epoll_ctl: %s", strerror(errno));
        /* Joining one at a time keeps the server's JOIN fan-out from piling up. */
        double deadline = now() + STALL_SECONDS;
        while (joinedCount <= i) {
            if (now() > deadline) die("client %d did not get its NAMES reply", i);
            readReady(epoll, 0.1);
        }
    }
    printf("joined %d\n", clientCount);
    fflush(stdout);

    long long members = clientCount - 1;
    long long sent = 0, sentAtGo = 0, deliveredAtGo = 0;
    double start = now(), go = start + warmup, end = go + seconds, cpuAtGo = 0, lastProgress = start;
    long long lastDeliveries = deliveries;
    int measuring = 0;
    for (;;) {
        while (sent * members - deliveries < depth * members) {
            int length = snprintf(line, sizeof line, "PRIVMSG #%s :message %lld from the bench\r\n",
                                  channel, sent);
            sendAll(clients[sent % clientCount].fd, line, (size_t)length);
            sent++;
        }
        readReady(epoll, 0.05);
        double t = now();
        if (deliveries != lastDeliveries) {
            lastDeliveries = deliveries;
            lastProgress = t;
        } else if (t - lastProgress > STALL_SECONDS) {
            die("no delivery for %.0f seconds", STALL_SECONDS);
        }
        if (!measuring && t >= go) {
            measuring = 1;
            cpuAtGo = cpuSeconds();
            deliveredAtGo = deliveries;
            sentAtGo = sent;
            go = t;
            end = go + seconds;
            printf("go\n");
            fflush(stdout);
        } else if (measuring && t >= end) {
            long long counted = deliveries - deliveredAtGo;
            double elapsed = t - go;
            printf("result deliveries=%lld messages=%lld seconds=%.6f rate=%.1f cpu=%.6f\n", counted,
                   sent - sentAtGo, elapsed, counted / elapsed, cpuSeconds() - cpuAtGo);
            fflush(stdout);
            return 0;
        }
    }
}
