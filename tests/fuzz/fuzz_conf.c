/*
 * fuzz_conf.c - libFuzzer harness for the configuration parser,
 * conf_load() (mta/conf.c).
 *
 * conf_load() reads a named file, so each input is written to one
 * unlinked temporary file (opened once, rewritten every run) and loaded
 * by its /proc/self/fd/N name: no change to conf.c for the harness.
 *
 * Properties: conf_load() returns 0 or -1; on -1 the struct is all zero
 * and the message is one line naming the file; on 0, conf_print()
 * output loads again and prints the same (conf.c promises that what it
 * prints reads back to the same struct conf); conf_free() frees all
 * (LeakSanitizer checks).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static int	in_fd = -1, rt_fd = -1;
static char	in_path[64], rt_path[64];

static int
tmpfile_fd(char *path, size_t len)
{
	char	tmpl[] = "/tmp/fuzz_conf.XXXXXX";
	int	fd;

	if ((fd = mkstemp(tmpl)) == -1 || unlink(tmpl) == -1)
		abort();
	(void)snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

static void
put(int fd, const void *p, size_t n)
{
	if (ftruncate(fd, 0) == -1 || (n > 0 && pwrite(fd, p, n, 0) !=
	    (ssize_t)n))
		abort();
}

/* conf_print() into a malloc'd string. */
static char *
printed(const struct conf *c, size_t *len)
{
	char	*s = NULL;
	FILE	*fp;

	if ((fp = open_memstream(&s, len)) == NULL)
		abort();
	conf_print(fp, c);
	if (fclose(fp) != 0)
		abort();
	return s;
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *u = p;
	size_t	i;

	for (i = 0; i < n; i++)
		if (u[i] != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c, c2;
	char	err[CONF_ERR_MAX], err2[CONF_ERR_MAX];
	char	*p1, *p2;
	size_t	l1, l2;

	if (in_fd == -1) {
		in_fd = tmpfile_fd(in_path, sizeof(in_path));
		rt_fd = tmpfile_fd(rt_path, sizeof(rt_path));
	}
	put(in_fd, data, size);
	memset(err, 0, sizeof(err));
	if (conf_load(in_path, &c, err, sizeof(err)) == -1) {
		FUZZ_CHECK(all_zero(&c, sizeof(c)));
		FUZZ_CHECK(strncmp(err, in_path, strlen(in_path)) == 0);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
		conf_free(&c);
		return 0;
	}
	p1 = printed(&c, &l1);
	put(rt_fd, p1, l1);
	if (conf_load(rt_path, &c2, err2, sizeof(err2)) == -1) {
		(void)fprintf(stderr, "printed config does not load: %s\n%s",
		    err2, p1);
		abort();
	}
	p2 = printed(&c2, &l2);
	if (l1 != l2 || memcmp(p1, p2, l1) != 0) {
		(void)fprintf(stderr, "printed config changes when read "
		    "back:\n--- first\n%s--- second\n%s", p1, p2);
		abort();
	}
	free(p1);
	free(p2);
	conf_free(&c);
	conf_free(&c2);
	return 0;
}
