/*
 * testutil.h - helpers shared by the unit tests.
 *
 *	tu_tmpdir()	a fresh directory under $TMPDIR (mkdtemp)
 *	tu_rmrf()	remove it again
 *	tu_sh()		run a shell command; its exit status
 *	tu_sh_out()	run a shell command; its stdout, trailing
 *			newlines removed (malloc'd; NULL on failure)
 *	tu_count_entries() entries of a directory but . and ..; -1 if it
 *			cannot be read
 *	tu_write_file()	write len bytes as the whole file (0600); 0 or -1
 *	TU_WRITE()	the same, asserted (in files that use cmocka)
 *
 * Tests use the openssl command line as an independent oracle, so these
 * run real commands; a command that fails fails the test.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

char	*tu_tmpdir(void);
void	 tu_rmrf(const char *dir);
int	 tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char	*tu_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	 tu_count_entries(const char *dir);
int	 tu_write_file(const char *path, const void *data, size_t len);

#define TU_WRITE(path, data, len) \
	assert_int_equal(tu_write_file((path), (data), (len)), 0)

#endif
