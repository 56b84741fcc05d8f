/* Exits with status 3 through exit(3), so atexit handlers and exit_group run. */
#include <stdlib.h>

int main(void) {
  exit(3);
}
