/* sysinfo(2)'s load averages agree with /proc/loadavg's (within LTP sysinfo01's 0.1): printed as
 * agreement only, since the values themselves are the machine's natively. */
#include <stdio.h>
#include <sys/sysinfo.h>

int main(void) {
  struct sysinfo si;
  float l[3];
  FILE *f = fopen("/proc/loadavg", "r");
  if (f == NULL || fscanf(f, "%f %f %f", &l[0], &l[1], &l[2]) != 3) return 1;
  fclose(f);
  if (sysinfo(&si) != 0) return 1;
  int agree = 1;
  for (int i = 0; i < 3; i++) {
    float s = (float)si.loads[i] / (1 << SI_LOAD_SHIFT);
    if (s - l[i] > 0.1 || l[i] - s > 0.1) agree = 0;
  }
  printf("sysinfo loads agree with /proc/loadavg: %d\n", agree);
  return 0;
}
