/* fuzz_log.c - libFuzzer: log lines from arbitrary values (a process name is
 * anyone's choice) stay one line, and JSON ones stay one object. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *val = malloc(size + 1), line[8192];
	size_t need;

	if (!val)
		return 0;
	memcpy(val, data, size);
	val[size] = '\0';
	for (int fmt = LOG_LOGFMT; fmt <= LOG_JSON; fmt++) {
		struct log_kv kv[2] = { { "event", "reap", false }, { "comm", val, false } };

		need = log_format_line(line, sizeof(line), fmt, kv, 2);
		if (need < sizeof(line)) {
			/* exactly one newline, at the end; printable ASCII before it */
			if (strlen(line) != need || line[need - 1] != '\n')
				abort();
			for (size_t i = 0; i + 1 < need; i++)
				if ((unsigned char)line[i] < ' ' || (unsigned char)line[i] >= 0x7f)
					abort();
		}
	}
	free(val);
	return 0;
}
