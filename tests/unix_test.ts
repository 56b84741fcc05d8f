/**
 * Unix domain sockets, run natively and in the sentry: the output and exit status must be the
 * same. The C fixtures print every result and errno they see; see each file's header.
 */

import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("stream, datagram and seqpacket sockets echo, block, time out and poll as natively", async () => {
  await assertSameAsNative([await compileC("unix_sockets")]);
});

Deno.test("AF_UNIX error cases, options and SIGPIPE rules match the host", async () => {
  await assertSameAsNative([await compileC("unix_errors")]);
});

Deno.test("SCM_RIGHTS passes an open file to a forked child, and credentials travel as natively", async () => {
  await assertSameAsNative([await compileC("unix_rights")]);
});

Deno.test("a static binary uses socketpair and SCM_RIGHTS as natively", async () => {
  await assertSameAsNative([await compileC("unix_rights", { static: true })]);
});

/** asyncio's default event loop (epoll) over an abstract-name Unix socket, in one process. */
const ASYNCIO_ECHO = `
import asyncio, os

N = 10000
NAME = "\\0sentry-asyncio-echo-%d" % os.getpid()

async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_unix_server(handle, path=NAME)
    reader, writer = await asyncio.open_unix_connection(path=NAME)
    total = 0
    for i in range(N):
        msg = b"message %d\\n" % i
        writer.write(msg)
        await writer.drain()
        echo = await reader.readline()
        if echo != msg:
            raise SystemExit("bad echo %r for %r" % (echo, msg))
        total += len(echo)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    print("echoed", N, "messages,", total, "bytes")

asyncio.run(main())
`;

Deno.test("a Python asyncio echo server and client exchange 10,000 messages over a Unix socket", async () => {
  const r = await assertSameAsNative(["/usr/bin/python3", "-c", ASYNCIO_ECHO]);
  if (!r.stdout.includes("echoed 10000 messages")) throw new Error(`unexpected output: ${r.stdout}`);
});
