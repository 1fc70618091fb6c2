/* Plain blocking socket code, as any C library has it: it knows nothing about coroutines.
 * Linked into a coro program, its connect/send/recv/close calls reach coro's hooks, so that
 * inside a coroutine they wait on the event loop instead of blocking the thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects to 127.0.0.1:port, sends len bytes of msg, then receives exactly len bytes into
 * out. Returns the number of bytes received, or -errno. */
long coro_c_echo_once(unsigned short port, const char *msg, size_t len, char *out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* A blocking send writes everything before it returns. */
    ssize_t sent = send(fd, msg, len, 0);
    if (sent != (ssize_t)len) {
        int e = sent < 0 ? errno : EIO;
        close(fd);
        return -e;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, out + got, len - got, 0);
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return (long)got;
}

/* Sleeps with libc's usleep (a coroutine sleeps on the loop's timer instead). */
int coro_c_usleep(unsigned int usec) { return usleep(usec); }

/* Waits with poll(2) until fd is readable, then reads up to len bytes, as C libraries wait
 * (libcurl, libpq). Returns the number of bytes read, or -errno of the first call that
 * failed. A coroutine cancelled or past its deadline makes poll fail (ECANCELED, ETIMEDOUT),
 * and this code leaves by its own error path. */
long coro_c_poll_then_read(int fd, char *out, size_t len) {
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    for (;;) {
        int r = poll(&p, 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue; /* what C code does with EINTR: the hooks never return it */
            return -errno;
        }
        break;
    }
    ssize_t n = read(fd, out, len);
    return n < 0 ? -errno : (long)n;
}

/* Reads with a plain blocking read(2), retrying on EINTR. Returns bytes read or -errno. */
long coro_c_read(int fd, char *out, size_t len) {
    for (;;) {
        ssize_t n = read(fd, out, len);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : (long)n;
    }
}
