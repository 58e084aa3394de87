/* fuzz_podid.c - libFuzzer: cgroup paths and /proc/PID/cgroup text into pod identity. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podid.h"

/* Each field must be terminated inside its array and hold only its documented characters. */
static void check_field(const char *field, size_t size, const char *allowed)
{
	size_t len = strnlen(field, size);

	if (len == size || strspn(field, allowed) != len)
		abort();
}

static void check_identity(const struct pod_identity *id)
{
	static const char hex_dash[] = "0123456789abcdef-";
	static const char unit_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-\\";
	char shortid[13];

	check_field(id->pod_uid, sizeof(id->pod_uid), hex_dash);
	check_field(id->container_id, sizeof(id->container_id), "0123456789abcdef");
	check_field(id->qos, sizeof(id->qos), "abcdefghijklmnopqrstuvwxyz");
	check_field(id->runtime, sizeof(id->runtime), "abcdefghijklmnopqrstuvwxyz");
	check_field(id->unit, sizeof(id->unit), unit_chars);
	if (id->kind != PODID_POD && (id->pod_uid[0] || id->qos[0]))
		abort();
	if (id->kind != PODID_UNIT && id->unit[0])
		abort();
	podid_short_container(id, shortid);
	if (strnlen(shortid, sizeof(shortid)) > 12 || strncmp(shortid, id->container_id, strlen(shortid)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), path[512];
	struct pod_identity id;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&id, 0xa5, sizeof(id));
	if (podid_parse(text, &id) != 0)
		abort();
	check_identity(&id);
	if (podid_cgroup_from_proc(text, path, sizeof(path)) == 0) {
		if (strnlen(path, sizeof(path)) == sizeof(path))
			abort();
		memset(&id, 0xa5, sizeof(id));
		if (podid_parse(path, &id) != 0)
			abort();
		check_identity(&id);
	}
	free(text);
	return 0;
}
