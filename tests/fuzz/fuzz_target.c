/* fuzz_target.c - libFuzzer: one --target spec. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sr_target t;
	char *spec = malloc(size + 1), err[512];

	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (options_parse_target(spec, &t, err, sizeof(err)) == 0) {
		if (t.n_cgroups > SR_TARGET_CGROUPS || t.n_ports > SR_TARGET_PORTS ||
		    strnlen(t.name, sizeof(t.name)) == sizeof(t.name))
			abort();
		for (size_t i = 0; i < t.n_ports; i++)
			if (!t.ports[i].lo || t.ports[i].lo > t.ports[i].hi)
				abort();
	}
	free(spec);
	return 0;
}
