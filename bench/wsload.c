/* wsload.c: the WebSocket load generator of bench/websocket.py.
 *
 * The echo servers under test are Python programs pinned to one core; the load comes
 * from this small epoll client in C on the other core, so that the client is never
 * the bottleneck. bench/websocket.py compiles it into bench/.build/wsload.
 *
 *   wsload pingpong HOST PORT CONNS MSGSIZE SECONDS WARMUP
 *       CONNS WebSocket connections (handshake to ws://HOST:PORT/, no extensions);
 *       each sends one masked binary message of MSGSIZE bytes, waits for the whole
 *       echo, checks it byte for byte and repeats. After WARMUP seconds it prints
 *       "go", counts round trips for SECONDS, then prints
 *       "result roundtrips=R seconds=S rate=R/S cpu=C".
 *   wsload bulk HOST PORT MSGSIZE SECONDS
 *       One connection sends messages of MSGSIZE bytes one after another, each once
 *       the previous echo is back; prints "result bytes=B seconds=S mbps=MB/s cpu=C"
 *       (B counts the bytes of both directions' messages).
 *
 * cpu= is this program's CPU seconds over the measured window. HOST is IPv4.
 * Errors go to stderr with exit status 1; bad usage exits with status 2.
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

#define MAX_EVENTS 512
#define MAX_MSGSIZE (64 * 1024 * 1024)

struct conn {
    int fd;
    size_t sent, got;
};

static struct sockaddr_in server;
static unsigned char *frame, *expected, *inbuf;
static size_t frameLen, expectedLen;

static void die(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fputs("wsload: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static size_t header(unsigned char *out, unsigned char first, int maskBit, size_t len) {
    out[0] = first;
    if (len < 126) {
        out[1] = (unsigned char)(maskBit | len);
        return 2;
    }
    if (len < 65536) {
        out[1] = (unsigned char)(maskBit | 126);
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = (unsigned char)(maskBit | 127);
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* The masked frame we send and the unmasked frame the echo must be. */
static void makeFrames(size_t msgsize) {
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    frame = malloc(msgsize + 14);
    expected = malloc(msgsize + 10);
    inbuf = malloc(msgsize + 10);
    if (!frame || !expected || !inbuf)
        die("out of memory for %zu-byte messages", msgsize);
    size_t at = header(frame, 0x82, 0x80, msgsize);
    memcpy(frame + at, key, 4);
    at += 4;
    size_t eat = header(expected, 0x82, 0, msgsize);
    for (size_t i = 0; i < msgsize; i++) {
        unsigned char byte = (unsigned char)('a' + (i * 7) % 26);
        expected[eat + i] = byte;
        frame[at + i] = byte ^ key[i % 4];
    }
    frameLen = at + msgsize;
    expectedLen = eat + msgsize;
}

static int connectOne(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct timeval timeout = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0)
        die("connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char request[] =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1))
        die("writing the handshake: %s", strerror(errno));
    char head[4096];
    size_t got = 0;
    /* Read byte by byte up to the blank line, so no frame byte is consumed here. */
    while (got < sizeof head - 1) {
        ssize_t n = read(fd, head + got, 1);
        if (n <= 0)
            die("the server closed or timed out during the handshake");
        got++;
        if (got >= 4 && !memcmp(head + got - 4, "\r\n\r\n", 4))
            break;
    }
    head[got] = 0;
    if (strncmp(head, "HTTP/1.1 101", 12))
        die("the server did not answer 101: %.60s", head);
    return fd;
}

static int pingpong(long conns, size_t msgsize, double seconds, double warmup) {
    makeFrames(msgsize);
    int ep = epoll_create1(0);
    struct conn *all = calloc((size_t)conns, sizeof *all);
    for (long i = 0; i < conns; i++) {
        all[i].fd = connectOne();
        fcntl(all[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &all[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, all[i].fd, &ev);
    }
    double start = now(), goAt = start + warmup, endAt = goAt + seconds, cpuAt = 0;
    long count = 0;
    int counting = 0;
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        double t = now();
        if (!counting && t >= goAt) {
            counting = 1;
            count = 0;
            cpuAt = cpu();
            puts("go");
            fflush(stdout);
        }
        if (counting && t >= endAt)
            break;
        int n = epoll_wait(ep, events, MAX_EVENTS, 100);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if (c->sent < frameLen && (events[e].events & EPOLLOUT)) {
                ssize_t w = write(c->fd, frame + c->sent, frameLen - c->sent);
                if (w < 0 && errno != EAGAIN)
                    die("write: %s", strerror(errno));
                if (w > 0)
                    c->sent += (size_t)w;
                if (c->sent == frameLen) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(c->fd, inbuf + c->got, expectedLen - c->got);
                if (r == 0)
                    die("the server closed a connection");
                if (r < 0 && errno != EAGAIN)
                    die("read: %s", strerror(errno));
                if (r > 0)
                    c->got += (size_t)r;
                if (c->got == expectedLen) {
                    if (memcmp(inbuf, expected, expectedLen))
                        die("an echo differs from the message sent");
                    count++;
                    c->got = 0;
                    c->sent = 0;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
        }
    }
    double elapsed = now() - goAt;
    printf("result roundtrips=%ld seconds=%.3f rate=%.1f cpu=%.3f\n", count, elapsed,
           count / elapsed, cpu() - cpuAt);
    return 0;
}

static int bulk(size_t msgsize, double seconds) {
    makeFrames(msgsize);
    int fd = connectOne();
    puts("go");
    fflush(stdout);
    double start = now(), cpuAt = cpu();
    long long bytes = 0;
    while (now() - start < seconds) {
        for (size_t sent = 0; sent < frameLen;) {
            ssize_t w = write(fd, frame + sent, frameLen - sent);
            if (w <= 0)
                die("write: %s", strerror(errno));
            sent += (size_t)w;
        }
        for (size_t got = 0; got < expectedLen;) {
            ssize_t r = read(fd, inbuf + got, expectedLen - got);
            if (r <= 0)
                die("the server closed or timed out");
            got += (size_t)r;
        }
        if (memcmp(inbuf, expected, expectedLen))
            die("an echo differs from the message sent");
        bytes += 2 * (long long)msgsize;
    }
    double elapsed = now() - start;
    printf("result bytes=%lld seconds=%.3f mbps=%.1f cpu=%.3f\n", bytes, elapsed,
           bytes / elapsed / 1e6, cpu() - cpuAt);
    return 0;
}

static double number(const char *text, const char *name, double low, double high) {
    char *end;
    double value = strtod(text, &end);
    if (*end || value < low || value > high) {
        fprintf(stderr, "wsload: %s must be a number from %g to %g, got '%s'\n", name, low, high, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fputs("usage: wsload pingpong HOST PORT CONNS MSGSIZE SECONDS WARMUP\n"
              "       wsload bulk HOST PORT MSGSIZE SECONDS\n", stderr);
        return 2;
    }
    server.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1)
        die("HOST must be an IPv4 address such as 127.0.0.1, got '%s'", argv[2]);
    server.sin_port = htons((uint16_t)number(argv[3], "PORT", 1, 65535));
    if (!strcmp(argv[1], "pingpong") && argc == 8)
        return pingpong((long)number(argv[4], "CONNS", 1, 10000),
                        (size_t)number(argv[5], "MSGSIZE", 1, MAX_MSGSIZE),
                        number(argv[6], "SECONDS", 0.01, 3600), number(argv[7], "WARMUP", 0, 3600));
    if (!strcmp(argv[1], "bulk") && argc == 6)
        return bulk((size_t)number(argv[4], "MSGSIZE", 1, MAX_MSGSIZE), number(argv[5], "SECONDS", 0.01, 3600));
    fputs("wsload: bad arguments; run without arguments for usage\n", stderr);
    return 2;
}
