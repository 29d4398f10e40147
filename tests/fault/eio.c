/*
 * Test-only fault injection for tests/fault_eio.rs: loaded with LD_PRELOAD into the quietwire
 * binary, it makes chosen file operations fail with EIO, as a failing disk would, without a
 * device-mapper "error" target (which a CI container cannot create).
 *
 *   QW_EIO_MATCH  a substring of the path an operation must touch to fail
 *   QW_EIO_OPS    comma-separated operations to fail: write, fsync, rename
 *
 * The path of a file descriptor is read from /proc/self/fd, so the match sees the temporary
 * file's real name. Nothing else in the process is affected.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int op_enabled(const char *op)
{
    const char *ops = getenv("QW_EIO_OPS");
    if (!ops)
        return 0;
    size_t n = strlen(op);
    for (const char *p = ops; (p = strstr(p, op)) != NULL; p += n) {
        int starts = p == ops || p[-1] == ',';
        int ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends)
            return 1;
    }
    return 0;
}

static int path_matches(const char *path)
{
    const char *want = getenv("QW_EIO_MATCH");
    return want && *want && path && strstr(path, want) != NULL;
}

static int fd_matches(int fd)
{
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = '\0';
    return path_matches(target);
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t count)
{
    if (op_enabled("write") && fd_matches(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(write)(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (op_enabled("write") && fd_matches(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(writev)(fd, iov, iovcnt);
}

int fsync(int fd)
{
    if (op_enabled("fsync") && fd_matches(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(fsync)(fd);
}

int fdatasync(int fd)
{
    if (op_enabled("fsync") && fd_matches(fd)) {
        errno = EIO;
        return -1;
    }
    return NEXT(fdatasync)(fd);
}

int rename(const char *from, const char *to)
{
    if (op_enabled("rename") && path_matches(to)) {
        errno = EIO;
        return -1;
    }
    return NEXT(rename)(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    if (op_enabled("rename") && path_matches(to)) {
        errno = EIO;
        return -1;
    }
    return NEXT(renameat)(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    if (op_enabled("rename") && path_matches(to)) {
        errno = EIO;
        return -1;
    }
    return NEXT(renameat2)(fromfd, from, tofd, to, flags);
}
