import assert from "node:assert/strict";
import { LineDiscipline } from "./line_discipline.ts";
import { Terminal, type TtyHost } from "./terminal.ts";
import {
  ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ICANON, ICRNL, IGNCR, INLCR, ISIG, NOFLSH, ONLCR,
  OPOST, VEOL, VMIN, VTIME, XTABS,
} from "../../abi/linux/tty.ts";
import { SIGINT, SIGQUIT, SIGTSTP, SIGWINCH } from "../../abi/linux/signal.ts";
import { EAGAIN, EIO } from "../../kernel/errno.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function typed(ld: LineDiscipline, s: string): void {
  assert.equal(ld.receive(enc(s)), s.length);
}

function readStr(ld: LineDiscipline, max = 100): string | null {
  const b = new Uint8Array(max);
  const n = ld.read(b);
  return n === null ? null : dec(b.subarray(0, n));
}

function output(ld: LineDiscipline): string {
  const b = new Uint8Array(65536);
  return dec(b.subarray(0, ld.readOutput(b)));
}

/** A signal sink that records what the terminal sends. */
class FakeHost implements TtyHost {
  sent: Array<[string, number, number]> = [];
  detached: number[] = [];
  signalProcessGroup(pgid: number, signo: number): void {
    this.sent.push(["pgrp", pgid, signo]);
  }
  signalSessionLeader(sid: number, signo: number): void {
    this.sent.push(["leader", sid, signo]);
  }
  detachSession(sid: number, _t: Terminal): void {
    this.detached.push(sid);
  }
}

Deno.test("a canonical read returns nothing until the line ends, then one line", () => {
  const ld = new LineDiscipline();
  typed(ld, "hel");
  assert.equal(readStr(ld), null);
  typed(ld, "lo\nworld\n");
  assert.equal(readStr(ld), "hello\n");
  assert.equal(readStr(ld), "world\n");
  assert.equal(readStr(ld), null);
});

Deno.test("ICRNL turns a typed carriage return into a newline, echoed as CR LF", () => {
  const ld = new LineDiscipline();
  typed(ld, "ab\r");
  assert.equal(readStr(ld), "ab\n");
  assert.equal(output(ld), "ab\r\n");
});

Deno.test("ERASE removes the last character and echoes backspace-space-backspace with ECHOE", () => {
  const ld = new LineDiscipline();
  typed(ld, "abc\x7f\x7fd\n");
  assert.equal(readStr(ld), "ad\n");
  assert.equal(output(ld), "abc\b \b\b \bd\r\n");
});

Deno.test("ERASE without ECHOE echoes the erase character itself", () => {
  const ld = new LineDiscipline();
  const t = ld.termios.clone();
  t.lflag &= ~(ECHOE | ECHOCTL);
  ld.setTermios(t);
  typed(ld, "ab\x7f");
  assert.equal(output(ld), "ab\x7f");
});

Deno.test("ERASE of a control character erases its two-column ^X echo", () => {
  const ld = new LineDiscipline();
  typed(ld, "a\x01\x7f\n");
  assert.equal(output(ld), "a^A\b \b\b \b\r\n");
  assert.equal(readStr(ld), "a\n");
});

Deno.test("KILL with ECHOKE erases the line on screen; without it echoes ^U and a newline", () => {
  const ld = new LineDiscipline();
  typed(ld, "xy\x15z\n");
  assert.equal(readStr(ld), "z\n");
  assert.equal(output(ld), "xy\b \b\b \bz\r\n");
  const t = ld.termios.clone();
  t.lflag &= ~ECHOKE;
  ld.setTermios(t);
  typed(ld, "ab\x15");
  assert.equal(output(ld), "ab^U\r\n");
  assert.equal(ld.termios.lflag & ECHOK, ECHOK);
});

Deno.test("WERASE erases the last word and the blanks after it", () => {
  const ld = new LineDiscipline();
  typed(ld, "one two  \x17three\n");
  assert.equal(readStr(ld), "one three\n");
});

Deno.test("EOF ends a line without a newline, and at the start of a line reads as 0 bytes", () => {
  const ld = new LineDiscipline();
  typed(ld, "abc\x04");
  assert.equal(readStr(ld), "abc");
  typed(ld, "\x04");
  assert.equal(readStr(ld), "");
  assert.equal(readStr(ld), null);
  assert.equal(output(ld), "abc");
});

Deno.test("EOL ends a line and is part of it", () => {
  const ld = new LineDiscipline();
  const t = ld.termios.clone();
  t.cc[VEOL] = 0x3b; // ';'
  ld.setTermios(t);
  typed(ld, "ls;");
  assert.equal(readStr(ld), "ls;");
});

Deno.test("a short read of a canonical line leaves the rest of it for the next read", () => {
  const ld = new LineDiscipline();
  typed(ld, "abcdef\nx\n");
  assert.equal(readStr(ld, 4), "abcd");
  assert.equal(readStr(ld, 100), "ef\n");
  assert.equal(readStr(ld, 100), "x\n");
});

Deno.test("LNEXT makes the next character literal", () => {
  const ld = new LineDiscipline();
  typed(ld, "a\x16\x7f\n");
  assert.equal(readStr(ld), "a\x7f\n");
});

Deno.test("IGNCR drops carriage returns; INLCR turns newlines into carriage returns", () => {
  const ld = new LineDiscipline();
  const t = ld.termios.clone();
  t.iflag = (t.iflag & ~ICRNL) | IGNCR;
  ld.setTermios(t);
  typed(ld, "a\rb\n");
  assert.equal(readStr(ld), "ab\n");
  const r = ld.termios.clone();
  r.iflag = INLCR;
  r.lflag &= ~ICANON;
  ld.setTermios(r);
  typed(ld, "x\n");
  assert.equal(readStr(ld), "x\r");
});

Deno.test("ECHOCTL echoes control characters as ^X; without ECHO only ECHONL echoes newlines", () => {
  const ld = new LineDiscipline();
  typed(ld, "\x01\x1b\n");
  assert.equal(output(ld), "^A^[\r\n");
  readStr(ld);
  const t = ld.termios.clone();
  t.lflag = (t.lflag & ~ECHO) | ECHONL;
  ld.setTermios(t);
  typed(ld, "secret\n");
  assert.equal(output(ld), "\r\n");
  assert.equal(readStr(ld), "secret\n");
});

Deno.test("ISIG turns ^C, ^\\ and ^Z into signals, echoes them, and flushes pending input", () => {
  const ld = new LineDiscipline();
  typed(ld, "partial\x03");
  assert.deepEqual(ld.takeSignals(), [SIGINT]);
  assert.equal(output(ld), "^C");
  typed(ld, "\n");
  assert.equal(readStr(ld), "\n");
  typed(ld, "\x1c\x1a");
  assert.deepEqual(ld.takeSignals(), [SIGQUIT, SIGTSTP]);
});

Deno.test("NOFLSH keeps the input a signal character would flush; without ISIG ^C is data", () => {
  const ld = new LineDiscipline();
  const t = ld.termios.clone();
  t.lflag |= NOFLSH;
  ld.setTermios(t);
  typed(ld, "ab\x03\n");
  assert.deepEqual(ld.takeSignals(), [SIGINT]);
  assert.equal(readStr(ld), "ab\n");
  const r = ld.termios.clone();
  r.lflag &= ~ISIG;
  ld.setTermios(r);
  typed(ld, "\x03\n");
  assert.deepEqual(ld.takeSignals(), []);
  assert.equal(readStr(ld), "\x03\n");
});

Deno.test("non-canonical input is readable byte by byte, and leaving canonical mode releases the edited line", () => {
  const ld = new LineDiscipline();
  typed(ld, "abc");
  const t = ld.termios.clone();
  t.lflag &= ~(ICANON | ECHO);
  t.cc[VMIN] = 1;
  t.cc[VTIME] = 0;
  ld.setTermios(t);
  assert.equal(readStr(ld, 2), "ab");
  typed(ld, "\x7f");
  assert.equal(readStr(ld), "c\x7f");
  assert.equal(ld.inputReady(true), false);
});

Deno.test("poll readiness in non-canonical mode waits for VMIN bytes when VTIME is 0", () => {
  const ld = new LineDiscipline();
  const t = ld.termios.clone();
  t.lflag &= ~ICANON;
  t.cc[VMIN] = 3;
  ld.setTermios(t);
  typed(ld, "ab");
  assert.equal(ld.inputReady(true), false);
  assert.equal(ld.inputReady(false), true);
  typed(ld, "c");
  assert.equal(ld.inputReady(true), true);
});

Deno.test("OPOST/ONLCR turns newlines into CR LF; without OPOST output is raw", () => {
  const ld = new LineDiscipline();
  assert.equal(ld.write(enc("a\nb")), 3);
  assert.equal(output(ld), "a\r\nb");
  const t = ld.termios.clone();
  t.oflag &= ~ONLCR;
  ld.setTermios(t);
  ld.write(enc("a\n"));
  assert.equal(output(ld), "a\n");
  t.oflag &= ~OPOST;
  ld.setTermios(t.clone());
  ld.write(enc("\t\n"));
  assert.equal(output(ld), "\t\n");
});

Deno.test("XTABS expands tabs to the next multiple of eight columns", () => {
  const ld = new LineDiscipline();
  const t = ld.termios.clone();
  t.oflag |= XTABS;
  ld.setTermios(t);
  ld.write(enc("ab\tc"));
  assert.equal(output(ld), "ab      c");
  assert.equal(ld.column, 9);
});

Deno.test("a stopped terminal (^S) takes no output until ^Q", () => {
  const ld = new LineDiscipline();
  typed(ld, "\x13");
  assert.equal(ld.write(enc("x")), 0);
  typed(ld, "\x11");
  assert.equal(ld.write(enc("x")), 1);
});

Deno.test("Terminal sends ^C to its foreground process group, and none without one", () => {
  const host = new FakeHost();
  const t = new Terminal(0, host);
  t.masterWrite(enc("\x03"));
  assert.deepEqual(host.sent, []);
  t.attach(1, 7);
  t.masterWrite(enc("\x1a"));
  assert.deepEqual(host.sent, [["pgrp", 7, SIGTSTP]]);
});

Deno.test("Terminal sends SIGWINCH only when the window size changes", () => {
  const host = new FakeHost();
  const t = new Terminal(0, host);
  t.attach(1, 3);
  t.setWindowSize({ rows: 24, cols: 80, xpixel: 0, ypixel: 0 });
  t.setWindowSize({ rows: 24, cols: 80, xpixel: 0, ypixel: 0 });
  assert.deepEqual(host.sent, [["pgrp", 3, SIGWINCH]]);
});

Deno.test("Terminal: master reads see output, then EIO once the slave closed", () => {
  const t = new Terminal(0, null);
  t.masterOpens = 1;
  const b = new Uint8Array(10);
  assert.throws(() => t.masterRead(b), (e) => e === EAGAIN);
  t.slaveOpened();
  t.slaveWrite(enc("hi"));
  t.slaveClosedOne();
  assert.equal(t.masterRead(b), 2);
  assert.throws(() => t.masterRead(b), (e) => e === EIO);
});

Deno.test("Terminal: after the master closes, slave reads see end of file and writes fail with EIO", () => {
  const host = new FakeHost();
  const t = new Terminal(0, host);
  t.masterOpens = 1;
  t.slaveOpened();
  t.attach(5, 5);
  t.masterClosed();
  assert.equal(t.slaveRead(new Uint8Array(4)), 0);
  assert.throws(() => t.slaveWrite(enc("x")), (e) => e === EIO);
  assert.deepEqual(host.sent, [["leader", 5, 1], ["leader", 5, 18]]);
  assert.deepEqual(host.detached, [5]);
  assert.equal(t.session, 0);
});
