/*
 * addr.c - socket addresses as text; see addr.h.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"

const char *
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN] = "?";
	int	port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		(void)inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		(void)inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	(void)snprintf(buf, len, "[%s]:%d", host, port);
	return buf;
}

int
addr_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->
		    sin_addr, &((const struct sockaddr_in *)(const void *)b)->
		    sin_addr, sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}
