#ifndef CSYSTEM_H
#define CSYSTEM_H
/* Linux headers that Swift's Glibc module does not include (as NIO's CNIOLinux does). */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <malloc.h> /* mallinfo2: heap in use, for admission-bench --view-size */

/* accept4 needs _GNU_SOURCE, which must not leak into the Swift-visible headers. */
int csystem_accept4(int fd);
#endif
