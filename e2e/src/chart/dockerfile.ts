// A small Dockerfile reader: stages and their instructions (continuations joined, comments
// dropped, ARG defaults substituted in FROM), and .dockerignore matching. Enough to check our
// images/Dockerfile without a Docker engine.

export interface Instruction {
  keyword: string;
  /** The rest of the line, continuations joined. */
  args: string;
  line: number;
}

export interface CopyInstruction {
  from?: string;
  sources: string[];
  dest: string;
  line: number;
}

export interface Stage {
  name?: string;
  base: string;
  instructions: Instruction[];
}

function logicalLines(text: string): Array<{ text: string; line: number }> {
  const out: Array<{ text: string; line: number }> = [];
  let current: { text: string; line: number } | undefined;
  text.split("\n").forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!current && (trimmed === "" || trimmed.startsWith("#"))) return;
    if (current && trimmed.startsWith("#")) return; // comment lines inside a continuation
    const continued = trimmed.endsWith("\\");
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    current = current ? { text: `${current.text} ${part}`.trim(), line: current.line } : { text: part, line: i + 1 };
    if (!continued) {
      out.push(current);
      current = undefined;
    }
  });
  if (current) throw new Error(`Dockerfile: line ${current.line} ends with a continuation and nothing after it`);
  return out;
}

export function parseDockerfile(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const { text: l, line } of logicalLines(text)) {
    const m = /^(\w+)\s*(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile line ${line}: cannot read '${l}'`);
    const keyword = (m[1] ?? "").toUpperCase();
    const args = m[2] ?? "";
    if (keyword === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile line ${line}: FROM '${args}'`);
      const base = (f[1] ?? "").replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => {
        const v = globalArgs.get(a ?? b);
        if (v === undefined) throw new Error(`Dockerfile line ${line}: FROM uses ARG ${a ?? b} without a default`);
        return v;
      });
      stages.push({ ...(f[2] ? { name: f[2] } : {}), base, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== "ARG") throw new Error(`Dockerfile line ${line}: ${keyword} before the first FROM`);
      const a = /^(\w+)(?:=(.*))?$/.exec(args);
      if (a?.[1] && a[2] !== undefined) globalArgs.set(a[1], a[2]);
    } else {
      stages[stages.length - 1]?.instructions.push({ keyword, args, line });
    }
  }
  return stages;
}

export function copiesOf(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
    .map((i) => {
      const words = i.args.startsWith("[") ? (JSON.parse(i.args) as string[]) : i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith("--"));
      const paths = words.filter((w) => !w.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
      if (paths.length < 2) throw new Error(`Dockerfile line ${i.line}: ${i.keyword} needs a source and a destination`);
      return {
        ...(from ? { from } : {}),
        sources: paths.slice(0, -1),
        dest: paths[paths.length - 1] ?? "",
        line: i.line,
      };
    });
}

/** .dockerignore patterns as Docker applies them to a context path (no `!` exceptions). */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const patterns = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (patterns.some((p) => p.startsWith("!"))) throw new Error(".dockerignore: exceptions (!) are not supported here");
  const regexes = patterns.map((p) => {
    const body = p
      .replace(/^\/+|\/+$/g, "")
      .split("/")
      .map((seg) =>
        seg === "**"
          ? "(?:.*)"
          : seg
              .replace(/[.+^${}()|[\]\\]/g, "\\$&")
              .replace(/\*/g, "[^/]*")
              .replace(/\?/g, "[^/]"),
      )
      .join("/")
      .replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
    return new RegExp(`^${body}$`);
  });
  // A path is excluded when it or one of its parent directories matches.
  return (path: string) => {
    const parts = path.replace(/^\.\/|\/+$/g, "").split("/");
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      if (regexes.some((r) => r.test(prefix))) return true;
    }
    return false;
  };
}
