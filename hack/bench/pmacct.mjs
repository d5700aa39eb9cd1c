// pmacct's collectors (nfacctd, sfacctd) as benchmark peers: one run of a daemon on a config
// that reads a pcap (pcap_savefile), measured by the CPU time of its processes. It idles between
// its core and plugin processes while reading a file, so its wall time is mostly waiting; the
// shell's `times` gives the user and system time of the children, as ours is one busy core.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

/** Runs `daemon -f conf` to its end; returns its processes' CPU seconds. */
export function pmacctCpuSeconds(daemon, conf) {
  const out = execFileSync("sh", ["-c", `${daemon} -f "${conf}" >/dev/null 2>&1; times`], {
    encoding: "utf8",
    timeout: 600_000,
  });
  // `times` prints the shell's times, then its children's: "0m1.230000s 0m0.040000s".
  return (out.trim().split("\n").at(-1) ?? "")
    .split(/\s+/)
    .map((t) => {
      const m = /(\d+)m([\d.]+)s/.exec(t);
      return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
    })
    .reduce((a, b) => a + b, 0);
}

/**
 * Writes a pmacct config at `path`: the daemon's input lines (`pcap_savefile: ...` or its
 * listening socket), then the print plugin aggregating per 5-tuple into CSV at `out`, written
 * only when the daemon ends.
 */
export function writePrintConfig(path, input, out) {
  writeFileSync(
    path,
    [
      "daemonize: false",
      ...input,
      "plugins: print",
      "aggregate: src_host, dst_host, src_port, dst_port, proto",
      `print_output_file: ${out}`,
      "print_output: csv",
      "print_refresh_time: 3600",
      "",
    ].join("\n"),
  );
}

/** The sum of one column (PACKETS, BYTES) of the print plugin's CSV. */
export function sumCsvColumn(file, name) {
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const col = lines[0].split(",").indexOf(name);
  if (col < 0) throw new Error(`${file}: no ${name} column`);
  return lines.slice(1).reduce((a, l) => a + Number(l.split(",")[col]), 0);
}
