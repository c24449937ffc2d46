/*
 * conf.h - pinpost.conf: one table of parameters, each with a name, a
 * type, a default and bounds (the way Postfix's main.cf works).
 *
 *	conf_defaults()		every parameter at its default
 *	conf_load()		defaults, then the file; "file:line: problem"
 *				for an unknown key, a bad value, a duplicate
 *	conf_free()		free what conf_load() allocated
 *	conf_print()		every parameter as "name = value" (-n, check)
 *	conf_list_has()		is a word in a list parameter (case-blind)?
 *	conf_net_match()	is an address in a list of networks (CIDR)?
 *				IPv4-mapped IPv6 matches IPv4 networks
 *
 * conf_load() fails with *c all zero (nothing to free); on success the
 * caller owns *c and frees it with conf_free().
 *
 * File syntax: "name = value" per line; '#' starts a comment line; blank
 * lines ignored; a line starting with white space continues the previous
 * value.  Lists are separated by commas and/or white space.  Durations
 * take a unit suffix s, m, h, d (default s); sizes k, m (1024-based).
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONF_ERR_MAX	512

struct conf_list {
	size_t	  n;
	char	**v;		/* n malloc'd strings */
};

struct conf {
	/* identity and files */
	char		*myhostname;	/* default: gethostname() */
	char		*user;		/* drop to this user; "" = stay */
	char		*spool_dir;	/* /var/spool/pinpost */
	int64_t		 queue_workers;	/* 8: disk threads; 1 .. 64 */
	char		*store;		/* /var/lib/pinpost/pins.tdb */
	char		*log;		/* "syslog" or "stderr" */

	/* listeners: "addr:port", "[v6addr]:port" */
	struct conf_list listen;	/* 127.0.0.1:25, [::1]:25 */
	struct conf_list listen_tls;	/* implicit TLS; empty */

	/* TLS, server side */
	char		*tls_cert_file;	/* PEM chain, leaf first */
	char		*tls_key_file;
	int		 starttls_enable;	/* yes: offer STARTTLS */
	/* PKP / STSEC, server side */
	int		 pkp_enable;	/* yes */
	struct conf_list pkp_backup_pins;	/* base64 pins or PEM files */
	int64_t		 pkp_max_age;	/* 259200; 0 .. 5184000 */
	char		*pkp_format;	/* single | multi */
	int		 stsec_enable;	/* yes */
	int64_t		 stsec_max_age;	/* 31536000; 0 .. 31536000 */

	/* limits */
	uint64_t	 message_size_limit;	/* 10m */
	int64_t		 recipient_limit;	/* 1000; 100 .. 100000 */
	int64_t		 max_connections;	/* 100 */
	int64_t		 max_connections_per_ip;	/* 10 */
	int64_t		 max_errors;		/* 10 */
	int64_t		 command_timeout;	/* 300s (RFC 5321 4.5.3.2.7) */
	int64_t		 data_timeout;		/* 180s (4.5.3.2.6... block) */
	int64_t		 data_min_rate;		/* 500 octets/s: the message
						   deadline grows by 1 s per
						   500 octets received */

	/* acceptance and local delivery */
	struct conf_list local_domains;	/* localhost */
	char		*maildir_root;	/* /var/mail/pinpost */
	struct conf_list mailboxes;	/* user@domain; empty: existing dirs */
	struct conf_list relay_networks;	/* 127.0.0.0/8, ::1/128 */

	/* client side (delivery) */
	char		*tls_level;	/* none | may | encrypt: "may" */
	char		*pkp_mode;	/* enforce | report */
	int64_t		 pkp_cap;	/* 5184000 */
	int64_t		 stsec_cap;	/* 31536000 */

	/* delivery (route.h for the route syntax) */
	struct conf_list route;		/* "DOMAIN NEXTHOP [LEVEL]", ... */
	int64_t		 relay_port;	/* 25: the port of MX hosts */
	char		*dns_resolver;	/* "": /etc/resolv.conf; ADDR[@PORT] */
	char		*tls_ca_file;	/* "": OpenSSL's default CA paths */
	int64_t		 queue_run_interval;	/* 60s */
	int64_t		 retry_min;		/* 300s: first retry */
	int64_t		 retry_max;		/* 4h: backoff ceiling */
	int64_t		 queue_lifetime;	/* 5d: then bounce */
	int64_t		 delay_warning;		/* 4h; 0: no delay notice */
	int64_t		 delivery_concurrency;	/* 20 sessions in all */
	int64_t		 destination_concurrency; /* 5 per destination */
	int64_t		 connect_timeout;	/* 30s */
	int64_t		 smtp_timeout;		/* 300s per reply */
};

void	conf_defaults(struct conf *c);
int	conf_load(const char *path, struct conf *c, char *err, size_t errlen);
void	conf_free(struct conf *c);
void	conf_print(FILE *fp, const struct conf *c);
int	conf_list_has(const struct conf_list *l, const char *word);
int	conf_net_match(const struct conf_list *nets, const struct sockaddr *sa);

#endif
