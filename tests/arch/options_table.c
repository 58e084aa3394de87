/* options_table.c - print README's options table, generated from the option
 * specs (options_markdown_table()); `make readme-options` puts it in README. */
#include <stdio.h>

#include "options.h"

int main(void)
{
	static char buf[65536];

	if (options_markdown_table(buf, sizeof(buf)))
		return 1;
	fputs(buf, stdout);
	return 0;
}
