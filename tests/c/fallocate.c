/* fallocate(2) by file type (memfd extended, socket and /dev/null ENODEV, pipe ESPIPE) and under
 * RLIMIT_FSIZE (EFBIG beyond it unless FALLOC_FL_KEEP_SIZE), as vfs_fallocate orders its checks. */
#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/resource.h>
int main(){ setvbuf(stdout,NULL,_IONBF,0); int m=memfd_create("x",0); errno=0; int r=fallocate(m,0,0,8192); struct stat st; fstat(m,&st); printf("memfd fallocate=%d %s size=%ld\n",r,strerror(errno),(long)st.st_size);
 int sv[2]; socketpair(AF_UNIX,SOCK_STREAM,0,sv); errno=0; r=fallocate(sv[0],0,0,10); printf("socket %d %s\n",r,strerror(errno));
 int p[2]; pipe(p); errno=0; r=fallocate(p[1],0,0,10); printf("pipe %d %s\n",r,strerror(errno));
 int n=open("/dev/null",O_WRONLY); errno=0; r=fallocate(n,0,0,10); printf("/dev/null %d %s\n",r,strerror(errno));
 signal(SIGXFSZ,SIG_IGN); struct rlimit rl={1024,RLIM_INFINITY}; setrlimit(RLIMIT_FSIZE,&rl); char t[]="/tmp/faXXXXXX"; int f=mkstemp(t); errno=0; r=fallocate(f,0,0,1025); printf("beyond RLIMIT_FSIZE %d %s\n",r,strerror(errno)); errno=0; r=fallocate(f,FALLOC_FL_KEEP_SIZE,0,4096); printf("KEEP_SIZE beyond %d %s\n",r,strerror(errno)); 
 int in=inotify_init1(IN_NONBLOCK); inotify_add_watch(in,t,IN_MODIFY); fallocate(f,0,0,512); char ev[256]; long k=read(in,ev,sizeof ev); printf("inotify after fallocate: %s\n", k>0 && (((struct inotify_event*)ev)->mask & IN_MODIFY) ? "IN_MODIFY" : "nothing");
 unlink(t); return 0;}
