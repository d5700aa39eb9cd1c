// Which interfaces the agent captures on: the configured names and globs, or every interface
// that is up (not loopback), minus the excluded ones. Read from /sys so no tool is needed.
import { readdirSync, readFileSync } from "node:fs";

export interface SystemInterface {
  name: string;
  up: boolean;
  loopback: boolean;
}

export function listSystemInterfaces(sysfs = "/sys/class/net"): SystemInterface[] {
  return readdirSync(sysfs).map((name) => {
    const read = (f: string) => {
      try {
        return readFileSync(`${sysfs}/${name}/${f}`, "utf8").trim();
      } catch {
        return "";
      }
    };
    const flags = Number.parseInt(read("flags") || "0", 16);
    // IFF_UP (0x1): operstate is "unknown" for some virtual devices that do carry traffic.
    const loopback = (flags & 0x8) !== 0 || read("type") === "772";
    return { name, up: (flags & 0x1) !== 0 && read("operstate") !== "down", loopback };
  });
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

export function selectInterfaces(
  available: readonly SystemInterface[],
  include: readonly string[],
  exclude: readonly string[],
): string[] {
  const excluded = exclude.map(globToRegExp);
  const keep = (name: string) => !excluded.some((r) => r.test(name));
  if (include.length === 0) {
    return available.filter((i) => i.up && !i.loopback && keep(i.name)).map((i) => i.name);
  }
  const out = new Set<string>();
  for (const pattern of include) {
    if (!/[*?]/.test(pattern)) {
      // A name given outright is used even if not listed (yet): capture reports the error.
      if (keep(pattern)) out.add(pattern);
      continue;
    }
    const r = globToRegExp(pattern);
    for (const i of available) if (r.test(i.name) && keep(i.name)) out.add(i.name);
  }
  return [...out];
}
