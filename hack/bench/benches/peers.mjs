// Peer commands shared by several benchmarks (not a benchmark itself: run.mjs skips it).
export const softflowd = (capture) => ({
  cmd: "softflowd",
  // Foreground, IPv6 too, room for every flow, no control socket (with one, softflowd 1.1.0
  // waits on it forever after reading a file); NetFlow goes to the discard port on loopback.
  args: [
    "-r",
    capture,
    "-d",
    "-6",
    "-m",
    "1000000",
    "-n",
    "127.0.0.1:9",
    "-p",
    "/tmp/flowlens-bench-softflowd.pid",
    "-c",
    "none",
  ],
});
