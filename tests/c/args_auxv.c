/*
 * Prints argv, envp and the auxiliary vector entries that must match natively, and checks the
 * initial stack's layout (the strings contiguous and in Linux's order, argc 16-byte aligned,
 * auxv right after envp, AT_RANDOM readable, AT_PHDR and AT_ENTRY pointing at this program).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

extern char _start[];
extern const ElfW(Ehdr) __ehdr_start;

static const char *yes(int b) { return b ? "yes" : "NO"; }

int main(int argc, char **argv, char **envp) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=\"%s\"\n", i, argv[i]);
  int envc = 0;
  while (envp[envc]) {
    printf("envp[%d]=\"%s\"\n", envc, envp[envc]);
    envc++;
  }

  printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
  printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
  printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
  printf("AT_UID=%lu AT_EUID=%lu AT_GID=%lu AT_EGID=%lu\n", getauxval(AT_UID),
         getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID));
  printf("AT_PHENT=%lu AT_PHNUM=%lu\n", getauxval(AT_PHENT), getauxval(AT_PHNUM));
  printf("AT_FLAGS=%lu\n", getauxval(AT_FLAGS));
  printf("AT_BASE=%s\n", getauxval(AT_BASE) != 0 ? "nonzero" : "0");
  printf("AT_ENTRY is _start: %s\n", yes(getauxval(AT_ENTRY) == (uintptr_t)_start));
  printf("AT_PHDR is the program headers: %s\n",
         yes(getauxval(AT_PHDR) == (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff));
  printf("AT_PHNUM is e_phnum: %s\n", yes(getauxval(AT_PHNUM) == __ehdr_start.e_phnum));
  const char *execfn = (const char *)getauxval(AT_EXECFN);
  printf("AT_EXECFN=\"%s\"\n", execfn ? execfn : "(none)");
  const char *platform = (const char *)getauxval(AT_PLATFORM);
  printf("AT_PLATFORM=\"%s\"\n", platform ? platform : "(none)");

  const unsigned char *random = (const unsigned char *)getauxval(AT_RANDOM);
  unsigned sum = 0;
  if (random) {
    for (int i = 0; i < 16; i++) sum += random[i];
  }
  printf("AT_RANDOM readable: %s\n", yes(random != NULL && sum < 16 * 256));

  /* Layout of the initial stack. */
  printf("argc slot 16-byte aligned: %s\n", yes(((uintptr_t)argv - 8) % 16 == 0));
  printf("envp follows argv: %s\n", yes(envp == argv + argc + 1));
  ElfW(auxv_t) *auxv = (ElfW(auxv_t) *)(envp + envc + 1);
  int found_pagesz = 0;
  ElfW(auxv_t) *a = auxv;
  for (; a->a_type != AT_NULL; a++) {
    if (a->a_type == AT_PAGESZ && a->a_un.a_val == getauxval(AT_PAGESZ)) found_pagesz = 1;
  }
  printf("auxv follows envp: %s\n", yes(found_pagesz));
  printf("AT_RANDOM above auxv: %s\n", yes((uintptr_t)random >= (uintptr_t)(a + 1)));
  printf("AT_RANDOM below the strings: %s\n",
         yes(argc > 0 && (uintptr_t)random + 16 <= (uintptr_t)argv[0]));
  int contiguous = 1;
  const char *expect = argc > 0 ? argv[0] : NULL;
  for (int i = 0; i < argc; i++) {
    if (argv[i] != expect) contiguous = 0;
    expect = argv[i] + strlen(argv[i]) + 1;
  }
  for (int i = 0; i < envc; i++) {
    if (envp[i] != expect) contiguous = 0;
    expect = envp[i] + strlen(envp[i]) + 1;
  }
  printf("argv then envp strings contiguous: %s\n", yes(contiguous));
  printf("AT_EXECFN follows the strings: %s\n", yes(execfn == expect));
  if (execfn) {
    uintptr_t top = (uintptr_t)execfn + strlen(execfn) + 1 + 8;
    printf("8 bytes above AT_EXECFN end the stack at a page boundary: %s\n",
           yes(top % 4096 == 0 && *(const uint64_t *)(top - 8) == 0));
  }
  return 0;
}
