/*
 * fuzz.h - what every libFuzzer harness in tests/fuzz/ shares.
 *
 *	LLVMFuzzerTestOneInput()	the entry point libFuzzer calls
 *	FUZZ_CHECK(cond)		a property: abort (a crash libFuzzer
 *					reports and saves) when cond is false
 *	fuzz_lines()			split input at LF into lines (a CR
 *					before the LF dropped), one call each
 *
 * The harnesses link the modules they test and nothing of libevent; each
 * one is a pure function of its input (no globals kept between runs but
 * what is said in the harness), so a saved crash input replays alone.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		(void)fprintf(stderr, "%s:%d: property failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

typedef void fuzz_line_fn(const char *line, size_t len, void *arg);

static inline void
fuzz_lines(const uint8_t *data, size_t size, fuzz_line_fn *fn, void *arg)
{
	size_t	start = 0, i, len;

	for (i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		if (i == size && start == size)
			break;
		len = i - start;
		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		fn((const char *)data + start, len, arg);
		start = i + 1;
	}
}

#endif
