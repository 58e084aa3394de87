/* test_format.c - address formatting and /proc socket-link parsing of user/format.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "format.h"

/* The kernel stores addresses as raw network-order bytes: build them that way. */
static void addr_bytes(uint32_t addr[4], const uint8_t *bytes, size_t n)
{
	memset(addr, 0, 4 * sizeof(uint32_t));
	memcpy(addr, bytes, n);
}

static void expect_v4(const uint8_t b[4], uint16_t port, const char *want)
{
	uint32_t addr[4];
	char buf[FORMAT_ADDR_LEN];

	addr_bytes(addr, b, 4);
	/* Bytes beyond the IPv4 address are ignored. */
	addr[1] = addr[2] = addr[3] = 0xdeadbeef;
	memset(buf, 'Z', sizeof(buf));
	format_addr(buf, sizeof(buf), AF_INET, addr, port);
	assert_string_equal(buf, want);
}

static void expect_v6(const uint8_t b[16], uint16_t port, const char *want)
{
	uint32_t addr[4];
	char buf[FORMAT_ADDR_LEN];

	addr_bytes(addr, b, 16);
	memset(buf, 'Z', sizeof(buf));
	format_addr(buf, sizeof(buf), AF_INET6, addr, port);
	assert_string_equal(buf, want);
}

static void test_format_ipv4(void **state)
{
	(void)state;
	expect_v4((const uint8_t[]){ 127, 0, 0, 1 }, 80, "127.0.0.1:80");
	expect_v4((const uint8_t[]){ 192, 168, 1, 20 }, 9750, "192.168.1.20:9750");
	expect_v4((const uint8_t[]){ 10, 1, 2, 3 }, 65535, "10.1.2.3:65535");
	expect_v4((const uint8_t[]){ 0, 0, 0, 0 }, 0, "0.0.0.0:0");
	expect_v4((const uint8_t[]){ 255, 255, 255, 255 }, 1, "255.255.255.255:1");
}

static void test_format_ipv6(void **state)
{
	(void)state;
	expect_v6((const uint8_t[16]){ [15] = 1 }, 9750, "[::1]:9750");
	expect_v6((const uint8_t[16]){ 0 }, 0, "[::]:0");
	expect_v6((const uint8_t[16]){ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, 443, "[2001:db8::1]:443");
	expect_v6((const uint8_t[16]){ 0xfe, 0x80, [8] = 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44,
				       0x55 },
		  22, "[fe80::211:22ff:fe33:4455]:22");
	/* v4-mapped, as a dual-stack listener sees an IPv4 peer. */
	expect_v6((const uint8_t[16]){ [10] = 0xff, 0xff, 1, 2, 3, 4 }, 8080,
		  "[::ffff:1.2.3.4]:8080");
	/* The longest possible text still fits FORMAT_ADDR_LEN. */
	{
		uint8_t all[16];

		memset(all, 0xff, sizeof(all));
		expect_v6(all, 65535, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	}
}

static void test_format_addr_truncates(void **state)
{
	uint32_t addr[4];
	char buf[8];

	(void)state;
	addr_bytes(addr, (const uint8_t[]){ 192, 168, 100, 200 }, 4);
	memset(buf, 'Z', sizeof(buf));
	format_addr(buf, 6, AF_INET, addr, 8080);
	assert_string_equal(buf, "192.1");
	assert_int_equal(buf[6], 'Z');
}

static void test_socket_link_ok(void **state)
{
	uint64_t ino = 0;

	(void)state;
	assert_int_equal(format_parse_socket_link("socket:[123]", &ino), 0);
	assert_int_equal(ino, 123);
	assert_int_equal(format_parse_socket_link("socket:[0]", &ino), 0);
	assert_int_equal(ino, 0);
	assert_int_equal(format_parse_socket_link("socket:[4026531993]", &ino), 0);
	assert_int_equal(ino, 4026531993ull);
	/* The largest inode number that fits, and the first one that does not. */
	assert_int_equal(format_parse_socket_link("socket:[18446744073709551615]", &ino), 0);
	assert_true(ino == UINT64_MAX);
	assert_int_equal(format_parse_socket_link("socket:[18446744073709551610]", &ino), 0);
	assert_true(ino == UINT64_MAX - 5);
}

static void test_socket_link_bad(void **state)
{
	static const char *const bad[] = {
		"pipe:[1]",
		"socket:[]",
		"socket:[12a]",
		"socket:[1]x",
		"socket:[1",
		"socket:[",
		"socket:",
		"socket",
		"",
		"socket:[-1]",
		"socket:[+1]",
		"socket:[ 1]",
		"socket:[1 ]",
		"SOCKET:[1]",
		" socket:[1]",
		"anon_inode:[eventpoll]",
		"/dev/null",
		"socket:[18446744073709551616]",   /* UINT64_MAX + 1 */
		"socket:[18446744073709551620]",
		"socket:[99999999999999999999]",
		"socket:[123456789012345678901234567890]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ino = 777;

		if (format_parse_socket_link(bad[i], &ino) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(ino, 777); /* untouched on error */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_ipv4),
		cmocka_unit_test(test_format_ipv6),
		cmocka_unit_test(test_format_addr_truncates),
		cmocka_unit_test(test_socket_link_ok),
		cmocka_unit_test(test_socket_link_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
