/* fuzz_proc.c - libFuzzer: the /proc text sockreap reads (fd links, mounts). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), mnt[256];
	uint64_t ino;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (format_parse_socket_link(text, &ino) == 0 && strncmp(text, "socket:[", 8))
		abort();
	if (cgroup_mount_from_text(text, mnt, sizeof(mnt)) == 0 && strnlen(mnt, sizeof(mnt)) == sizeof(mnt))
		abort();
	free(text);
	return 0;
}
