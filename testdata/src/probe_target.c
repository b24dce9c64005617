// SPDX-License-Identifier: Apache-2.0
// ebpf-layout test target for probes.bpf.c, built by tests/load_programs.rs
// with the host compiler: `probe_target N` waits for a line on stdin, then
// calls ebl_target_add() N times and passes USDT probe ebl:mark with
// arguments 1..N.
//
// The USDT note is written here by hand, in the format <sys/sdt.h> emits (an
// ELF note "stapsdt", type 3: probe address, base, semaphore, provider, name,
// argument spec), so the test needs no systemtap headers.
#include <stdio.h>
#include <stdlib.h>

#define EBL_USDT1(provider, name, arg)                                        \
	__asm__ __volatile__("990: nop\n"                                      \
			     ".pushsection .note.stapsdt,\"\",\"note\"\n"      \
			     ".balign 4\n"                                     \
			     ".4byte 992f-991f, 994f-993f, 3\n"                \
			     "991: .asciz \"stapsdt\"\n"                       \
			     "992: .balign 4\n"                                \
			     "993: .8byte 990b\n"                              \
			     ".8byte 0\n"                                      \
			     ".8byte 0\n"                                      \
			     ".asciz \"" #provider "\"\n"                      \
			     ".asciz \"" #name "\"\n"                          \
			     ".asciz \"8@%[a]\"\n"                             \
			     "994: .balign 4\n"                                \
			     ".popsection\n"                                   \
			     :                                                 \
			     : [a] "r"((long)(arg)))

__attribute__((noinline)) long ebl_target_add(long a, long b)
{
	__asm__ __volatile__("" ::: "memory");
	return a + b;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	long sum = 0;
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		return 2;
	for (long i = 1; i <= n; i++) {
		sum = ebl_target_add(sum, i);
		EBL_USDT1(ebl, mark, i);
	}
	printf("%ld\n", sum);
	return 0;
}
