// images/Dockerfile read without a Docker engine: its stages, that everything it copies from
// the build context exists and is not excluded by .dockerignore, that the images run as
// non-root, that the agent image installs the runtime packages of exactly the libraries the
// built addon links, and that the kind scripts and the workflow that build them hold together.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { haveCommand, repoRoot } from "@flowlens/testkit";
import { parse } from "yaml";
import { copiesOf, dockerignoreMatcher, parseDockerfile, type Stage } from "./dockerfile.js";

const dockerfile = join(repoRoot, "images/Dockerfile");
const stages = parseDockerfile(readFileSync(dockerfile, "utf8"));
const ignored = dockerignoreMatcher(readFileSync(join(repoRoot, ".dockerignore"), "utf8"));
const addon = join(repoRoot, "agent/native/build/Release/flowlens_native.node");

function stage(name: string): Stage {
  const s = stages.find((x) => x.name === name);
  assert.ok(s, `no stage '${name}' in images/Dockerfile (stages: ${stages.map((x) => x.name)})`);
  return s;
}

/** The packages `apt-get install` lines of a stage install. */
function aptPackages(s: Stage): Set<string> {
  const out = new Set<string>();
  for (const i of s.instructions.filter((x) => x.keyword === "RUN")) {
    for (const m of i.args.matchAll(/apt-get install ([^&;|]+)/g)) {
      for (const w of (m[1] ?? "").split(/\s+/)) if (w && !w.startsWith("-")) out.add(w);
    }
  }
  return out;
}

function lastKeyword(s: Stage, keyword: string): number {
  return s.instructions.findLastIndex((i) => i.keyword === keyword);
}

/** Workspace packages `name` needs at run time, itself included (dependencies, not devDependencies). */
function runtimeWorkspaces(dir: string, seen = new Set<string>()): Set<string> {
  if (seen.has(dir)) return seen;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join(repoRoot, dir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    if (dep.startsWith("@flowlens/")) runtimeWorkspaces(dep.slice("@flowlens/".length), seen);
  }
  return seen;
}

describe("images/Dockerfile", () => {
  it("has a build stage on Node 20 bookworm, a slim runtime, and the flowlens image last (the default target)", () => {
    assert.equal(stage("build").base, "node:20-bookworm");
    assert.equal(stage("runtime").base, "node:20-bookworm-slim");
    assert.equal(stage("operator").base, "runtime");
    assert.equal(stage("flowlens").base, "runtime");
    assert.equal(stages[stages.length - 1]?.name, "flowlens");
  });

  it("copies from the build context only files that exist and that .dockerignore lets through", () => {
    let checked = 0;
    for (const s of stages) {
      for (const c of copiesOf(s).filter((x) => !x.from)) {
        for (const src of c.sources) {
          const path = src.replace(/\/$/, "");
          assert.ok(existsSync(join(repoRoot, path)), `line ${c.line}: COPY ${src}: not in the repository`);
          assert.equal(ignored(path), false, `line ${c.line}: COPY ${src} is excluded by .dockerignore`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 10, `only ${checked} context sources`);
    // And the context leaves out what is built or installed here.
    for (const p of ["node_modules", "agent/dist", "agent/native/build", ".git", "e2e/src/chart/images.test.ts"]) {
      assert.ok(ignored(p), `.dockerignore lets ${p} into the context`);
    }
  });

  it("copies between stages only from earlier stages, and only what the build stage made", () => {
    const names = stages.map((s) => s.name);
    const buildCopied = copiesOf(stage("build"))
      .filter((c) => !c.from)
      .flatMap((c) => c.sources.map((s) => s.replace(/\/$/, "").split("/")[0]));
    stages.forEach((s, i) => {
      for (const c of copiesOf(s).filter((x) => x.from)) {
        const from = names.indexOf(c.from);
        assert.ok(from >= 0 && from < i, `line ${c.line}: --from=${c.from} is not an earlier stage`);
        for (const src of c.sources) {
          const top = src.replace(/^\/src\//, "").split("/")[0] ?? "";
          assert.ok(src.startsWith("/src/"), `line ${c.line}: ${src} is outside the build's /src`);
          assert.ok(
            top === "node_modules" || buildCopied.includes(top) || buildCopied.includes(src.replace(/^\/src\//, "")),
            `line ${c.line}: ${src} is neither copied into nor made by the build stage`,
          );
        }
      }
    });
  });

  it("puts every workspace the CLI needs at run time in the runtime image, and flowlens on PATH", () => {
    const runtime = copiesOf(stage("runtime"));
    const dests = new Set(runtime.map((c) => c.dest.replace(/\/$/, "")));
    for (const ws of runtimeWorkspaces("cli")) {
      assert.ok(dests.has(`${ws}/dist`), `the runtime image lacks ${ws}/dist`);
      assert.ok(dests.has(ws), `the runtime image lacks ${ws}/package.json`);
    }
    assert.ok(dests.has("node_modules"));
    // The operator's Pods run `flowlens agent|aggregator` (operator/src/reconcile): a command on PATH.
    assert.ok(
      stage("runtime").instructions.some(
        (i) => i.keyword === "RUN" && /ln -s \/app\/cli\/dist\/main\.js \/usr\/local\/bin\/flowlens/.test(i.args),
      ),
    );
    const workdir = stage("runtime").instructions.find((i) => i.keyword === "WORKDIR")?.args;
    assert.equal(workdir, "/app");
  });

  it("runs both images as a non-root user, set after the last RUN", () => {
    for (const name of ["operator", "flowlens"]) {
      const s = stage(name);
      const user = s.instructions.findLast((i) => i.keyword === "USER");
      assert.ok(user, `${name}: no USER`);
      const [uid, gid] = user.args.split(":");
      assert.ok(Number(uid) > 0 && Number(gid) > 0, `${name}: USER ${user.args} is root`);
      assert.ok(lastKeyword(s, "USER") > lastKeyword(s, "RUN"), `${name}: a RUN after USER`);
      assert.match(s.instructions.find((i) => i.keyword === "ENTRYPOINT")?.args ?? "", /"flowlens"/);
    }
  });

  it("puts the addon where the agent loads it, and nothing native in the operator image", () => {
    const native = readFileSync(join(repoRoot, "agent/src/engine/native.ts"), "utf8");
    assert.match(native, /native\/build\/Release\/flowlens_native\.node/);
    const copies = copiesOf(stage("flowlens"));
    const addonCopy = copies.find((c) => c.sources.some((s) => s.endsWith("flowlens_native.node")));
    assert.ok(addonCopy, "the flowlens image does not copy the addon");
    assert.equal(addonCopy.dest, "agent/native/build/Release/");
    assert.equal(
      copiesOf(stage("operator")).length + aptPackages(stage("operator")).size,
      0,
      "the operator image adds nothing to the runtime",
    );
  });

  it("builds the addon with the -dev packages of the libraries binding.gyp links", () => {
    const gyp = readFileSync(join(repoRoot, "agent/native/binding.gyp"), "utf8");
    const build = aptPackages(stage("build"));
    for (const [lib, dev] of [
      ["-lpcap", "libpcap-dev"],
      ["-lndpi", "libndpi-dev"],
    ] as const) {
      assert.ok(gyp.includes(lib), `binding.gyp no longer links ${lib}: update this test and the Dockerfile`);
      assert.ok(build.has(dev), `the build stage does not install ${dev}`);
    }
    for (const tool of ["python3", "make", "g++"]) assert.ok(build.has(tool), `the build stage lacks ${tool}`);
  });

  it("installs in the flowlens image the Debian packages of exactly the shared libraries the built addon links", {
    skip: !existsSync(addon)
      ? "the addon is not built (make native)"
      : !haveCommand("ldd") || !haveCommand("dpkg")
        ? "needs ldd and dpkg"
        : false,
  }, () => {
    // libc, libpthread etc. come with the base image; the rest must be installed.
    const base = new Set(["libc6", "libgcc-s1", "libstdc++6", "libzstd1", "zlib1g"]);
    const ldd = spawnSync("ldd", [addon], { encoding: "utf8" });
    assert.equal(ldd.status, 0, ldd.stderr);
    const libs = [...ldd.stdout.matchAll(/=> (\/\S+)/g)].map((m) => m[1] ?? "");
    const packages = new Set<string>();
    for (const lib of libs) {
      const owner = spawnSync("dpkg", ["-S", lib], { encoding: "utf8" });
      const realOwner = owner.status === 0 ? owner : spawnSync("dpkg", ["-S", lib.replace(/^\/lib\//, "/usr/lib/")]);
      const pkg = String(realOwner.stdout).split(":")[0]?.trim();
      assert.ok(pkg, `no Debian package owns ${lib}`);
      packages.add(pkg);
    }
    const needed = [...packages].filter((p) => !base.has(p)).sort();
    // Those of the addon's own -l libraries and what they pull in that the slim base lacks.
    assert.ok(needed.includes("libpcap0.8") && needed.some((p) => p.startsWith("libndpi")), `needed: ${needed}`);
    const installed = aptPackages(stage("flowlens"));
    const direct = needed.filter((p) => p.startsWith("libpcap") || p.startsWith("libndpi"));
    assert.deepEqual([...installed].sort(), direct, "the flowlens image installs other packages than the addon links");
  });
});

describe("kind scripts and the Docker workflow", () => {
  const scripts = ["hack/build-images.sh", "hack/kind-up.sh", "hack/kind-smoke.sh"];

  it("are executable bash that parses", () => {
    for (const s of scripts) {
      accessSync(join(repoRoot, s), constants.X_OK);
      const r = spawnSync("bash", ["-n", join(repoRoot, s)], { encoding: "utf8" });
      assert.equal(r.status, 0, `${s}: ${r.stderr}`);
    }
  });

  it("the workflow runs the scripts that exist, kind-up with the images it built", () => {
    const wf = parse(readFileSync(join(repoRoot, ".github/workflows/kind.yml"), "utf8")) as {
      jobs: Record<string, { "runs-on": string; steps: Array<{ run?: string; uses?: string }> }>;
    };
    const job = wf.jobs.kind;
    assert.ok(job, "no kind job");
    assert.match(job["runs-on"], /^ubuntu-/);
    const runs = job.steps.map((s) => s.run ?? "").join("\n");
    for (const s of scripts) assert.ok(runs.includes(s), `the workflow does not run ${s}`);
    assert.match(runs, /SKIP_BUILD=1 hack\/kind-up\.sh/);
    // The chart, images and samples the scripts use are where they say.
    const kindUp = readFileSync(join(repoRoot, "hack/kind-up.sh"), "utf8");
    for (const m of kindUp.matchAll(/crds\/samples\/\$s\.yaml|for s in ([a-z -]+); do/g)) {
      for (const sample of (m[1] ?? "").split(/\s+/).filter(Boolean)) {
        assert.ok(
          existsSync(join(repoRoot, "crds/samples", `${sample}.yaml`)),
          `kind-up applies a missing sample ${sample}`,
        );
      }
    }
    assert.ok(existsSync(join(repoRoot, "hack/kind-config.yaml")));
  });
});
