/*
 * addr.h - socket addresses as text.
 *
 *	addr_format()	"[192.0.2.1]:25" or "[2001:db8::1]:25"
 *	addr_same_host() the same IPv4 or IPv6 address, whatever the port
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>

#include <stddef.h>

const char *addr_format(const struct sockaddr *sa, char *buf, size_t len);
int	addr_same_host(const struct sockaddr *a, const struct sockaddr *b);

#endif
