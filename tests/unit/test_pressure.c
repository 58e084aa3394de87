/* test_pressure.c - reading the kernel's TCP memory pressure from /proc/net
 * text (user/pressure.c): the protocols table's press column, TcpExt's
 * TCPMemoryPressures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pressure.h"

#define HDR "protocol  size sockets  memory press maxhdr  slab module     cl co di\n"

static void test_protocols(void **state)
{
	(void)state;
	assert_int_equal(pressure_parse_protocols(HDR
		"TCPv6     2432      0     195   no     192   yes  kernel      y  y  y\n"
		"TCP       2304      0     195   no     192   yes  kernel      y  y  y\n"), 0);
	assert_int_equal(pressure_parse_protocols(HDR
		"UDP       1472      0       3   NI       0   yes  kernel      y  y  y\n"
		"TCP       2304     10   31000   yes    192   yes  kernel      y  y  y"), 1);
	/* TCPv6 is not TCP; a missing TCP line, column or value is unknown. */
	assert_int_equal(pressure_parse_protocols(HDR
		"TCPv6     2432      0     195   yes    192   yes  kernel      y  y  y\n"), -1);
	assert_int_equal(pressure_parse_protocols("protocol  size sockets  memory\n"
						  "TCP       2304      0     195\n"), -1);
	assert_int_equal(pressure_parse_protocols(HDR "TCP       2304      0\n"), -1);
	assert_int_equal(pressure_parse_protocols(HDR "TCP       2304      0     195   NI  1\n"), -1);
	assert_int_equal(pressure_parse_protocols(""), -1);
}

static void test_netstat(void **state)
{
	uint64_t c = 7;

	(void)state;
	assert_int_equal(pressure_parse_netstat(
		"TcpExt: SyncookiesSent TCPMemoryPressures TCPMemoryPressuresChrono\n"
		"TcpExt: 0 3 120\n"
		"IpExt: InNoRoutes\nIpExt: 0\n", &c), 0);
	assert_int_equal(c, 3);
	assert_int_equal(pressure_parse_netstat(
		"IpExt: InNoRoutes\nIpExt: 0\n"
		"TcpExt: TCPMemoryPressures\nTcpExt: 18446744073709551615\n", &c), 0);
	assert_int_equal(c, UINT64_MAX);
	/* No such counter, no value line, a value that is not a number. */
	assert_int_equal(pressure_parse_netstat("TcpExt: SyncookiesSent\nTcpExt: 0\n", &c), -1);
	assert_int_equal(pressure_parse_netstat("TcpExt: TCPMemoryPressures\n", &c), -1);
	assert_int_equal(pressure_parse_netstat("TcpExt: TCPMemoryPressures\nTcpExt: 3x\n", &c), -1);
	assert_int_equal(pressure_parse_netstat("", &c), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_netstat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
