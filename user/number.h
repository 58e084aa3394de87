/* number.h - the one parser of unsigned decimal numbers from outside input. */
#ifndef SR_NUMBER_H
#define SR_NUMBER_H

/* Decimal digits only (no sign, no space, no 0x), min..max. 0, or -EINVAL. */
int number_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
