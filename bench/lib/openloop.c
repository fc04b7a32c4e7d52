// openloop: an open-loop (fixed-rate) HTTPS/1.1 load generator for the Gatehouse bench.
//
// Why C: the Node generator cost about as much CPU as the gateway it measured on a 2-core machine,
// and its own event-loop and GC stalls showed up as 25-35 ms p99 even against nginx. This one is a
// single thread on epoll, non-blocking sockets and OpenSSL, in its own process.
//
// Request i of a phase is due at start + i/rate, whatever the answers do. A due request goes out on
// an idle kept-alive connection; if none is idle it waits in a FIFO, and its latency still counts
// from its scheduled time, so a stalled server is charged for the requests it delayed (no
// coordinated omission). Latency is also reported from the actual write to the socket.
//
// Failures: a request whose connection breaks, or whose answer is malformed, finishes as an error,
// and so does the request at the head of the FIFO when a (re)connection attempt fails, so that a
// dead server shows as errors rather than as a queue; a run whose outstanding requests (queued +
// in flight) exceed connections*20 stops issuing ("aborted": overloaded), and what has not finished
// 10 s after the last due request counts as unfinished.
//
// Phases: connect every connection, warm up (same rate, not recorded), then measure. The lines
// "openloop: measure start" and "openloop: measure end" on stderr bracket the measured phase; the
// result is one line of JSON on stdout. Like bench/lib/openloop.mjs before it, `requests` counts
// every finished request (2xx, non-2xx and errors alike) and the percentiles cover all of them (a
// request that failed before it could be sent counts 0 ms from send).
//
// Responses (RFC 9112): status line, header fields, then a body delimited by Content-Length or by
// `Transfer-Encoding: chunked` (decoded, trailers skipped); 1xx interim answers are skipped. A body
// delimited only by the connection closing, both length fields at once (RFC 9112 §6.3 ¶3: treat
// as an error), or an unknown transfer coding count as errors.
//
// Build: cc -O2 -Wall -Wextra -o openloop openloop.c -lssl -lcrypto
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define DRAIN_NS (10 * NS_PER_S)  // after the last due request, wait this long for answers
#define CONNECT_NS (5 * NS_PER_S) // initial connections must be up within this
#define BACKLOG_FACTOR 20         // more than connections*20 outstanding: overloaded, stop
#define LINE_MAX_LEN 8192         // longest status, header or chunk-size line accepted
#define TIMER_KEY UINT64_MAX      // epoll key of the timerfd (connections use index|generation)

static const char USAGE[] =
    "usage: openloop -p PORT -r RATE -d SECONDS [-w WARMUP_SECONDS] [-c CONNECTIONS]\n"
    "                [-P PATH_PREFIX] [-n IDS] [-H 'name: value']... [-m METHOD] [-b BODY]\n"
    "  Sends GET PATH_PREFIX{1..IDS} (default /items/ and 1000; -n 0: the prefix alone) to\n"
    "  https://127.0.0.1:PORT at RATE requests/s (open loop) over CONNECTIONS kept-alive TLS\n"
    "  connections (default 16; certificates are not verified), WARMUP_SECONDS (default 0) of\n"
    "  warm-up then SECONDS measured. -H adds a header line to every request (repeatable);\n"
    "  -m sends another method, -b the same body with each request (Content-Length added).\n"
    "  Prints one line of JSON on stdout; exit 2 on bad arguments, 1 if no connection can be made.\n";

// ---------------------------------------------------------------------------------------------
// Options

static struct {
    int port;
    double rate, seconds, warmup;
    int connections;
    const char *prefix;
    const char *method;
    long ids;
    char *head_tail; // "host: …\r\n" + extra header lines + "\r\n" + body: the same bytes each time
    size_t head_tail_len;
} opt = {.connections = 16, .prefix = "/items/", .method = "GET", .ids = 1000};

__attribute__((noreturn, format(printf, 1, 2))) static void usage_exit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("openloop: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    fputs(USAGE, stderr);
    exit(2);
}

static double parse_number(const char *flag, const char *s, double min, double max) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
        usage_exit("%s expects a number from %g to %g, got '%s'", flag, min, max, s);
    return v;
}

static long parse_integer(const char *flag, const char *s, long min, long max) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        usage_exit("%s expects an integer from %ld to %ld, got '%s'", flag, min, max, s);
    return v;
}

static int is_tchar(unsigned char ch) { // RFC 9110 §5.6.2 token characters
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void append(char **buf, size_t *len, const char *s, size_t n) {
    char *grown = realloc(*buf, *len + n + 1);
    if (!grown) {
        perror("openloop: realloc");
        exit(1);
    }
    memcpy(grown + *len, s, n);
    *len += n;
    grown[*len] = 0;
    *buf = grown;
}

/** Check "name: value" (RFC 9110 §5.1, §5.5: token name, no CR/LF/NUL) and append it as a line. */
static void add_header(const char *line, int *has_host) {
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        usage_exit("-H expects 'name: value', got '%s'", line);
    for (const char *p = line; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            usage_exit("-H header name must be a token, got '%s'", line);
    for (const char *p = colon + 1; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            usage_exit("-H header value has a control character: '%s'", line);
    if (colon - line == 4 && strncasecmp(line, "host", 4) == 0)
        *has_host = 1;
    append(&opt.head_tail, &opt.head_tail_len, line, strlen(line));
    append(&opt.head_tail, &opt.head_tail_len, "\r\n", 2);
}

static void parse_options(int argc, char **argv) {
    int has_port = 0, has_rate = 0, has_seconds = 0, has_host = 0, ch;
    const char *body = NULL;
    opterr = 0;
    while ((ch = getopt(argc, argv, ":p:r:d:w:c:P:n:H:m:b:h")) != -1) {
        switch (ch) {
        case 'p': opt.port = (int)parse_integer("-p", optarg, 1, 65535), has_port = 1; break;
        case 'r': opt.rate = parse_number("-r", optarg, 1e-3, 1e7), has_rate = 1; break;
        case 'd': opt.seconds = parse_number("-d", optarg, 1e-3, 86400), has_seconds = 1; break;
        case 'w': opt.warmup = parse_number("-w", optarg, 0, 86400); break;
        case 'c': opt.connections = (int)parse_integer("-c", optarg, 1, 10000); break;
        case 'n': opt.ids = parse_integer("-n", optarg, 0, 1000000000); break;
        case 'P': opt.prefix = optarg; break;
        case 'H': add_header(optarg, &has_host); break;
        case 'm': opt.method = optarg; break;
        case 'b': body = optarg; break;
        case 'h': fputs(USAGE, stdout); exit(0);
        case ':': usage_exit("-%c needs a value", optopt);
        default: usage_exit("unknown option -%c", optopt);
        }
    }
    if (optind < argc)
        usage_exit("unexpected argument '%s' (the host is always 127.0.0.1)", argv[optind]);
    if (!has_port || !has_rate || !has_seconds)
        usage_exit("-p, -r and -d are required");
    if (opt.prefix[0] != '/')
        usage_exit("-P must start with '/', got '%s'", opt.prefix);
    for (const char *p = opt.prefix; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            usage_exit("-P may hold only visible ASCII, got '%s'", opt.prefix);
    if (!*opt.method)
        usage_exit("-m must be a method name");
    for (const char *p = opt.method; *p; p++)
        if (!is_tchar((unsigned char)*p))
            usage_exit("-m must be a token, got '%s'", opt.method);
    if (body) {
        char length[48];
        snprintf(length, sizeof length, "content-length: %zu", strlen(body));
        add_header(length, &has_host);
    }
    if (opt.rate * opt.seconds < 0.5 || opt.rate * opt.seconds > 5e7) // 16 bytes kept per request
        usage_exit("-r times -d must make from 1 to 5e7 requests");
    char host[40];
    int n = snprintf(host, sizeof host, "host: 127.0.0.1:%d\r\n", opt.port);
    if (!has_host) { // the host line goes first: prepend it to the extra lines
        char *tail = opt.head_tail;
        size_t tail_len = opt.head_tail_len;
        opt.head_tail = NULL, opt.head_tail_len = 0;
        append(&opt.head_tail, &opt.head_tail_len, host, (size_t)n);
        if (tail)
            append(&opt.head_tail, &opt.head_tail_len, tail, tail_len);
        free(tail);
    }
    append(&opt.head_tail, &opt.head_tail_len, "\r\n", 2);
    if (body) // the same bytes after every request's head
        append(&opt.head_tail, &opt.head_tail_len, body, strlen(body));
}

// ---------------------------------------------------------------------------------------------
// Time, phase bookkeeping

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

struct phase {
    int64_t start, end;
    uint64_t total;  // requests this phase schedules
    uint64_t issued; // requests whose due time has come (sent, in flight or queued)
    uint64_t qhead;  // requests [qhead, issued) wait in the FIFO for an idle connection
    uint64_t done;   // finished: answered or failed
    uint64_t non2xx, errors;
    int aborted;
    int64_t *from_sched, *from_send; // per finished request, ns; NULL in warm-up (not recorded)
};

static struct phase *cur;
static char last_error[256]; // the latest connection or protocol failure, for the report

static uint64_t requests_in(double seconds) { // rate * seconds, rounded (Math.round); no libm
    return (uint64_t)(opt.rate * seconds + 0.5);
}

static int64_t due_ns(const struct phase *p, uint64_t i) {
    return p->start + (int64_t)((double)i * 1e9 / opt.rate);
}

__attribute__((format(printf, 1, 2))) static void note_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static void finish(int64_t scheduled, int64_t sent, int status, int failed) {
    struct phase *p = cur;
    int64_t t = now_ns();
    if (p->from_sched) {
        p->from_sched[p->done] = t - scheduled;
        p->from_send[p->done] = t - sent;
    }
    p->done++;
    if (failed)
        p->errors++;
    else if (status < 200 || status > 299)
        p->non2xx++;
}

// ---------------------------------------------------------------------------------------------
// Response parser: fed the decrypted byte stream, one response at a time.

enum pstate { P_STATUS, P_HEADER, P_BODY, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_END, P_TRAILER, P_DONE };

struct parser {
    enum pstate st;
    int status, close_after, chunked;
    int64_t length; // Content-Length, -1 if absent
    uint64_t remaining;
    size_t llen;
    char line[LINE_MAX_LEN + 1];
};

static void parser_reset(struct parser *p) {
    p->st = P_STATUS;
    p->status = 0, p->close_after = 0, p->chunked = 0;
    p->length = -1;
    p->remaining = 0;
    p->llen = 0;
}

static int token_in_list(const char *list, const char *token) { // comma-separated, OWS, any case
    size_t n = strlen(token);
    for (const char *s = list; *s;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == n && strncasecmp(s, token, n) == 0)
            return 1;
        s = e;
    }
    return 0;
}

static int last_token_is(const char *list, const char *token) {
    const char *s = strrchr(list, ',');
    s = s ? s + 1 : list;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(token), len = strlen(s);
    while (len > n && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return len == n && strncasecmp(s, token, n) == 0;
}

static int parse_status_line(struct parser *p, const char *l) {
    // HTTP-version SP 3DIGIT SP [reason]  (RFC 9112 §4)
    if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
        return note_error("bad status line '%.60s'", l), -1;
    for (int i = 9; i < 12; i++)
        if (l[i] < '0' || l[i] > '9')
            return note_error("bad status line '%.60s'", l), -1;
    if (l[12] != ' ' && l[12] != 0)
        return note_error("bad status line '%.60s'", l), -1;
    p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    p->close_after = l[7] == '0'; // HTTP/1.0: no persistent connection unless it says keep-alive
    p->st = P_HEADER;
    return 0;
}

static int end_of_header(struct parser *p) {
    if (p->status >= 100 && p->status <= 199) { // interim answer: the final one follows
        if (p->status == 101)
            return note_error("unexpected 101 Switching Protocols"), -1;
        parser_reset(p);
        return 0;
    }
    if (p->chunked && p->length >= 0)
        return note_error("both Transfer-Encoding and Content-Length"), -1;
    if (p->status == 204 || p->status == 304 || (!p->chunked && p->length == 0))
        p->st = P_DONE;
    else if (p->chunked)
        p->st = P_CHUNK_SIZE;
    else if (p->length > 0)
        p->st = P_BODY, p->remaining = (uint64_t)p->length;
    else
        return note_error("status %d answer without Content-Length or chunked", p->status), -1;
    return 0;
}

static int parse_field(struct parser *p, char *l) {
    if (*l == ' ' || *l == '\t')
        return note_error("obsolete line folding in a header"), -1;
    char *colon = strchr(l, ':');
    if (!colon || colon == l || colon[-1] == ' ' || colon[-1] == '\t')
        return note_error("bad header line '%.60s'", l), -1;
    *colon = 0;
    char *v = colon + 1, *e = v + strlen(v);
    while (*v == ' ' || *v == '\t')
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = 0;
    if (strcasecmp(l, "content-length") == 0) {
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 15)
            return note_error("bad Content-Length '%.30s'", v), -1;
        int64_t n = strtoll(v, NULL, 10);
        if (p->length >= 0 && p->length != n)
            return note_error("conflicting Content-Length fields"), -1;
        p->length = n;
    } else if (strcasecmp(l, "transfer-encoding") == 0) {
        if (!last_token_is(v, "chunked")) // RFC 9112 §6.3 ¶4: else the length is unknown
            return note_error("unsupported Transfer-Encoding '%.30s'", v), -1;
        p->chunked = 1;
    } else if (strcasecmp(l, "connection") == 0) {
        if (token_in_list(v, "close"))
            p->close_after = 1;
        else if (token_in_list(v, "keep-alive"))
            p->close_after = 0;
    }
    return 0;
}

static int parse_chunk_size(struct parser *p, const char *l) {
    // chunk-size [chunk-ext] (RFC 9112 §7.1): hex digits, then optional ";ext" or whitespace
    uint64_t n = 0;
    int digits = 0;
    for (; *l; l++, digits++) {
        int d = (*l >= '0' && *l <= '9') ? *l - '0' : (*l >= 'a' && *l <= 'f') ? *l - 'a' + 10
                                                   : (*l >= 'A' && *l <= 'F') ? *l - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (digits == 15)
            return note_error("chunk size too large"), -1;
        n = n * 16 + (uint64_t)d;
    }
    if (!digits || (*l && *l != ';' && *l != ' ' && *l != '\t'))
        return note_error("bad chunk size line '%.30s'", l), -1;
    if (n == 0)
        p->st = P_TRAILER;
    else
        p->st = P_CHUNK_DATA, p->remaining = n;
    return 0;
}

static int parse_line(struct parser *p) {
    char *l = p->line;
    l[p->llen] = 0;
    switch (p->st) {
    case P_STATUS: return parse_status_line(p, l);
    case P_HEADER: return *l ? parse_field(p, l) : end_of_header(p);
    case P_CHUNK_SIZE: return parse_chunk_size(p, l);
    case P_CHUNK_END:
        if (*l)
            return note_error("chunk data longer than its size"), -1;
        p->st = P_CHUNK_SIZE;
        return 0;
    case P_TRAILER:
        if (!*l)
            p->st = P_DONE;
        return 0;
    default: return -1;
    }
}

/** Consume bytes until the response is complete; returns bytes used, or -1 on a malformed answer. */
static ssize_t parser_feed(struct parser *p, const char *buf, size_t n) {
    size_t i = 0;
    while (i < n && p->st != P_DONE) {
        if (p->st == P_BODY || p->st == P_CHUNK_DATA) { // body bytes are skipped, not copied
            size_t take = n - i < p->remaining ? n - i : (size_t)p->remaining;
            i += take;
            p->remaining -= take;
            if (!p->remaining)
                p->st = p->st == P_BODY ? P_DONE : P_CHUNK_END;
            continue;
        }
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t take = (nl ? (size_t)(nl - (buf + i)) : n - i);
        if (p->llen + take > LINE_MAX_LEN)
            return note_error("line longer than %d bytes", LINE_MAX_LEN), -1;
        memcpy(p->line + p->llen, buf + i, take);
        p->llen += take;
        i += take;
        if (!nl)
            break;
        i++; // the '\n'
        if (p->llen && p->line[p->llen - 1] == '\r')
            p->llen--; // CRLF; a bare LF is accepted too (RFC 9112 §2.2)
        if (parse_line(p) < 0)
            return -1;
        p->llen = 0;
    }
    return (ssize_t)i;
}

// ---------------------------------------------------------------------------------------------
// Connections

enum cstate { C_DOWN, C_CONNECTING, C_HANDSHAKE, C_IDLE, C_BUSY };

struct conn {
    enum cstate st;
    int fd;
    SSL *ssl;
    uint32_t gen;    // bumped on close: stale epoll events for an old socket are ignored
    uint32_t events; // current epoll interest
    int in_idle_ring;
    int want_write; // the last TLS call needs the socket writable
    char *wbuf;
    size_t wlen, woff;
    int64_t scheduled, sent;
    struct parser parser;
};

static SSL_CTX *ctx;
static int ep, tfd;
static struct conn *conns;
static struct conn **idle_ring; // round-robin over idle connections keeps all of them warm
static size_t idle_head, idle_count;
static int n_connecting;
static size_t wbuf_cap;
static char rbuf[65536];

static uint64_t conn_key(const struct conn *c) {
    return ((uint64_t)c->gen << 32) | (uint64_t)(c - conns);
}

static void set_events(struct conn *c, uint32_t events) {
    if (events == c->events)
        return;
    struct epoll_event ev = {.events = events, .data.u64 = conn_key(c)};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        perror("openloop: epoll_ctl");
        exit(1);
    }
    c->events = events;
}

static void idle_push(struct conn *c) {
    c->st = C_IDLE;
    if (c->in_idle_ring)
        return; // an old entry is still queued, and is valid again
    idle_ring[(idle_head + idle_count++) % (size_t)opt.connections] = c;
    c->in_idle_ring = 1;
}

static struct conn *idle_pop(void) {
    while (idle_count) {
        struct conn *c = idle_ring[idle_head];
        idle_head = (idle_head + 1) % (size_t)opt.connections;
        idle_count--;
        c->in_idle_ring = 0;
        if (c->st == C_IDLE)
            return c;
    }
    return NULL;
}

static void conn_close(struct conn *c) {
    if (c->st == C_CONNECTING || c->st == C_HANDSHAKE)
        n_connecting--;
    if (c->ssl)
        SSL_free(c->ssl); // no close_notify: the peer is gone or out of step
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
    c->gen++;
    c->st = C_DOWN;
}

/** A queued request could not get a connection: it fails now (the server cannot take it). */
static void fail_queue_head(void) {
    struct phase *p = cur;
    if (p && p->qhead < p->issued) {
        int64_t due = due_ns(p, p->qhead++);
        finish(due, now_ns(), 0, 1);
    }
}

static void ssl_error_text(const char *what) {
    unsigned long e = ERR_peek_last_error();
    char buf[200];
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
        note_error("%s: %s", what, buf);
    } else if (errno) {
        note_error("%s: %s", what, strerror(errno));
    } else {
        note_error("%s: connection closed by the server", what);
    }
    ERR_clear_error();
}

static void connect_failed(struct conn *c) {
    conn_close(c);
    fail_queue_head();
}

static void start_handshake(struct conn *c);

/** Start a TCP connect; returns -1 (connection down again) if it failed at once. */
static int conn_open(struct conn *c) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return note_error("socket: %s", strerror(errno)), -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = C_CONNECTING;
    n_connecting++;
    c->events = EPOLLOUT;
    struct epoll_event ev = {.events = c->events, .data.u64 = conn_key(c)};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        perror("openloop: epoll_ctl");
        exit(1);
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        note_error("connect to 127.0.0.1:%d: %s", opt.port, strerror(errno));
        conn_close(c);
        return -1;
    }
    return 0;
}

static void after_connect(struct conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        note_error("connect to 127.0.0.1:%d: %s", opt.port, strerror(err));
        connect_failed(c);
        return;
    }
    c->ssl = SSL_new(ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
        ssl_error_text("SSL_new");
        connect_failed(c);
        return;
    }
    SSL_set_connect_state(c->ssl);
    c->st = C_HANDSHAKE;
    start_handshake(c);
}

static void start_handshake(struct conn *c) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        n_connecting--;
        set_events(c, EPOLLIN);
        idle_push(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        set_events(c, EPOLLIN);
    else if (e == SSL_ERROR_WANT_WRITE)
        set_events(c, EPOLLIN | EPOLLOUT);
    else {
        ssl_error_text("TLS handshake");
        connect_failed(c);
    }
}

/** Write the rest of the request; returns -1 if the connection failed (request finished as error). */
static int conn_write(struct conn *c) {
    while (c->woff < c->wlen) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_write(c->ssl, c->wbuf + c->woff, (int)(c->wlen - c->woff));
        if (r > 0) {
            c->woff += (size_t)r;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            c->want_write = 1;
            set_events(c, EPOLLIN | EPOLLOUT);
            return 0;
        }
        ssl_error_text("write");
        finish(c->scheduled, c->sent, 0, 1);
        conn_close(c);
        return -1;
    }
    c->want_write = 0;
    set_events(c, EPOLLIN);
    return 0;
}

static void conn_send(struct conn *c, uint64_t index, int64_t scheduled) {
    int n = opt.ids ? snprintf(c->wbuf, wbuf_cap, "%s %s%lu HTTP/1.1\r\n", opt.method, opt.prefix,
                               (unsigned long)(index % (uint64_t)opt.ids + 1))
                    : snprintf(c->wbuf, wbuf_cap, "%s %s HTTP/1.1\r\n", opt.method, opt.prefix);
    memcpy(c->wbuf + n, opt.head_tail, opt.head_tail_len);
    c->wlen = (size_t)n + opt.head_tail_len;
    c->woff = 0;
    c->scheduled = scheduled;
    c->sent = now_ns();
    c->st = C_BUSY;
    parser_reset(&c->parser);
    conn_write(c);
}

static void conn_readable(struct conn *c);

/** The answer is complete: record it, then keep the connection or replace it. */
static void conn_answered(struct conn *c, int leftover) {
    finish(c->scheduled, c->sent, c->parser.status, 0);
    if (leftover || SSL_pending(c->ssl) > 0) { // bytes beyond the answer: the stream is out of step
        note_error("bytes after a complete answer (status %d)", c->parser.status);
        conn_close(c);
        conn_open(c);
    } else if (c->parser.close_after) {
        conn_close(c);
        conn_open(c); // a planned close: replace it now, not when a request is waiting
    } else {
        idle_push(c);
        if (SSL_has_pending(c->ssl)) // read ahead (a close_notify, say): epoll will not tell again
            conn_readable(c);
    }
}

static void conn_readable(struct conn *c) {
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(c->ssl, rbuf, sizeof rbuf);
        if (r > 0) {
            if (c->st != C_BUSY) { // an idle connection has nothing to receive
                note_error("%d unexpected bytes on an idle connection", r);
                conn_close(c);
                conn_open(c);
                return;
            }
            ssize_t used = parser_feed(&c->parser, rbuf, (size_t)r);
            if (used < 0) {
                finish(c->scheduled, c->sent, 0, 1);
                conn_close(c);
                return;
            }
            if (c->parser.st == P_DONE) {
                conn_answered(c, used < r);
                return;
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            set_events(c, e == SSL_ERROR_WANT_WRITE || c->want_write ? EPOLLIN | EPOLLOUT : EPOLLIN);
            return;
        }
        if (c->st == C_BUSY) {
            ssl_error_text("read");
            finish(c->scheduled, c->sent, 0, 1);
            conn_close(c);
        } else {
            ERR_clear_error();
            conn_close(c); // the server closed an idle connection (keep-alive timeout)
            conn_open(c);
        }
        return;
    }
}

static void conn_event(struct conn *c, uint32_t events) {
    switch (c->st) {
    case C_CONNECTING: after_connect(c); break;
    case C_HANDSHAKE: start_handshake(c); break;
    case C_IDLE: conn_readable(c); break;
    case C_BUSY:
        if ((events & (EPOLLOUT | EPOLLERR)) && c->want_write && conn_write(c) < 0)
            break;
        conn_readable(c); // also when only writable: a read may have been waiting for that (TLS)
        break;
    case C_DOWN: break;
    }
}

/** Queued requests to idle connections, in order; open connections for the rest. */
static void dispatch(void) {
    struct phase *p = cur;
    while (p->qhead < p->issued) {
        struct conn *c = idle_pop();
        if (c) {
            uint64_t i = p->qhead++;
            conn_send(c, i, due_ns(p, i));
            continue;
        }
        if ((uint64_t)n_connecting >= p->issued - p->qhead)
            return; // enough connections on their way
        struct conn *down = NULL;
        for (int k = 0; k < opt.connections && !down; k++)
            if (conns[k].st == C_DOWN)
                down = &conns[k];
        if (!down)
            return;
        if (conn_open(down) < 0)
            fail_queue_head();
    }
}

// ---------------------------------------------------------------------------------------------
// Event loop

static int64_t armed = -1;

static void arm_timer(int64_t at) {
    if (at == armed)
        return;
    struct itimerspec its = {.it_value = {.tv_sec = at / NS_PER_S, .tv_nsec = at % NS_PER_S}};
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        perror("openloop: timerfd_settime");
        exit(1);
    }
    armed = at;
}

/** Wait for I/O or the timer (armed for `until`), handle what happened. */
static void poll_once(int64_t until) {
    struct epoll_event evs[64];
    arm_timer(until);
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0 && errno != EINTR) {
        perror("openloop: epoll_wait");
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        uint64_t key = evs[i].data.u64;
        if (key == TIMER_KEY) {
            uint64_t expirations;
            if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                perror("openloop: read timerfd");
            armed = -1;
            continue;
        }
        struct conn *c = &conns[key & 0xffffffffu];
        if ((uint32_t)(key >> 32) == c->gen) // else: an event for a socket closed since
            conn_event(c, evs[i].events);
    }
}

static void run_phase(struct phase *p) {
    uint64_t max_outstanding = (uint64_t)opt.connections * BACKLOG_FACTOR;
    int64_t deadline = 0;
    int issuing = 1;
    cur = p;
    p->start = now_ns();
    for (;;) {
        int64_t t = now_ns();
        if (issuing) {
            while (p->issued < p->total && due_ns(p, p->issued) <= t)
                p->issued++;
            if (p->issued - p->done > max_outstanding)
                p->aborted = 1;
            if (p->aborted || p->issued == p->total)
                issuing = 0, deadline = t + DRAIN_NS;
        }
        dispatch();
        if (!issuing && (p->done == p->issued || t >= deadline))
            break;
        poll_once(issuing ? due_ns(p, p->issued) : deadline);
    }
    p->end = now_ns();
    // What did not finish is counted as unfinished; its connections cannot serve the next phase.
    p->qhead = p->issued;
    cur = NULL;
    for (int k = 0; k < opt.connections; k++)
        if (conns[k].st == C_BUSY) {
            conn_close(&conns[k]);
            conn_open(&conns[k]);
        }
}

static void connect_all(void) {
    int64_t deadline = now_ns() + CONNECT_NS;
    for (int k = 0; k < opt.connections; k++)
        conn_open(&conns[k]);
    while (n_connecting > 0 && now_ns() < deadline)
        poll_once(deadline);
    if (!idle_count) {
        fprintf(stderr, "openloop: no connection to 127.0.0.1:%d could be made (%s)\n", opt.port,
                last_error[0] ? last_error : "timed out");
        exit(1);
    }
}

static void setup(void) {
    signal(SIGPIPE, SIG_IGN); // a write to a closed socket is an error to count, not a kill
    prctl(PR_SET_TIMERSLACK, 1UL); // timer wake-ups within microseconds, not the default 50 µs
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        fputs("openloop: SSL_CTX_new failed\n", stderr);
        exit(1);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); // the bench's self-signed test CA
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1); // one read() per burst, not one per record header and body
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0) {
        perror("openloop: epoll/timerfd");
        exit(1);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_KEY};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    conns = calloc((size_t)opt.connections, sizeof *conns);
    idle_ring = calloc((size_t)opt.connections, sizeof *idle_ring);
    wbuf_cap = strlen(opt.method) + strlen(opt.prefix) + 64 + opt.head_tail_len;
    if (!conns || !idle_ring) {
        perror("openloop: calloc");
        exit(1);
    }
    for (int k = 0; k < opt.connections; k++) {
        conns[k].fd = -1;
        conns[k].wbuf = malloc(wbuf_cap);
        if (!conns[k].wbuf) {
            perror("openloop: malloc");
            exit(1);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Report

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void print_ms(const char *name, const int64_t *sorted, uint64_t n, double pct) {
    if (!n) {
        printf(",\"%s\":null", name);
        return;
    }
    uint64_t i = (uint64_t)(pct / 100 * (double)n); // floor: the index bench/lib/openloop.mjs used
    printf(",\"%s\":%.3f", name, (double)sorted[i < n ? i : n - 1] / 1e6);
}

static void report(struct phase *p) {
    uint64_t n = p->done;
    qsort(p->from_sched, n, sizeof *p->from_sched, cmp_i64);
    qsort(p->from_send, n, sizeof *p->from_send, cmp_i64);
    double elapsed = (double)(p->end - p->start) / 1e9;
    printf("{\"targetRate\":%.15g,\"achievedRate\":%.1f,\"requests\":%lu", opt.rate,
           elapsed > 0 ? (double)n / elapsed : 0.0, (unsigned long)n);
    print_ms("p50Ms", p->from_sched, n, 50);
    print_ms("p90Ms", p->from_sched, n, 90);
    print_ms("p99Ms", p->from_sched, n, 99);
    print_ms("maxMs", p->from_sched, n, 100);
    print_ms("p50FromSendMs", p->from_send, n, 50);
    print_ms("p99FromSendMs", p->from_send, n, 99);
    printf(",\"non2xx\":%lu,\"errors\":%lu,\"unfinished\":%lu,\"aborted\":%s}\n", (unsigned long)p->non2xx,
           (unsigned long)p->errors, (unsigned long)(p->issued - p->done), p->aborted ? "true" : "false");
    fflush(stdout);
}

int main(int argc, char **argv) {
    parse_options(argc, argv);
    setup();
    connect_all();
    if (opt.warmup > 0) {
        struct phase warm = {.total = requests_in(opt.warmup)};
        if (warm.total)
            run_phase(&warm);
        if (warm.aborted)
            fprintf(stderr, "openloop: warm-up overloaded (over %d outstanding); measuring anyway\n",
                    opt.connections * BACKLOG_FACTOR);
    }
    struct phase m = {.total = requests_in(opt.seconds)};
    m.from_sched = malloc(m.total * sizeof *m.from_sched);
    m.from_send = malloc(m.total * sizeof *m.from_send);
    if (!m.from_sched || !m.from_send) {
        perror("openloop: malloc");
        return 1;
    }
    fputs("openloop: measure start\n", stderr);
    run_phase(&m);
    fputs("openloop: measure end\n", stderr);
    if (m.errors || m.aborted || m.issued != m.done)
        fprintf(stderr, "openloop: %lu errors, %lu unfinished%s; last failure: %s\n", (unsigned long)m.errors,
                (unsigned long)(m.issued - m.done), m.aborted ? ", aborted (overloaded)" : "",
                last_error[0] ? last_error : "none");
    report(&m);
    free(m.from_sched);
    free(m.from_send);
    return 0;
}
