/*
 * addr.h - socket addresses as text.
 *
 *	addr_format()	"[192.0.2.1]:25" or "[2001:db8::1]:25"
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>

#include <stddef.h>

const char *addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
