// Settings of the daemons from three places, one name each: the long flag (`--grpc-target`),
// the environment (`FLOWLENS_GRPC_TARGET`) and the config file (`grpc-target:` in YAML or
// JSON). A flag beats the environment, which beats the file, which beats the default.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { type OptionSpec, UsageError } from "./command.js";

type Value = string | boolean | string[] | undefined;

export function envName(option: string): string {
  return `FLOWLENS_${option.toUpperCase().replace(/-/g, "_")}`;
}

function fromText(cmd: string, name: string, spec: OptionSpec, raw: string, where: string): Value {
  if (spec.type === "boolean") {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off|)$/i.test(raw)) return false;
    throw new UsageError(`${cmd}: ${where} ${name} must be true or false, got '${raw}'`);
  }
  return spec.multiple
    ? raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : raw;
}

function fromFile(cmd: string, name: string, spec: OptionSpec, raw: unknown, file: string): Value {
  const where = `config file ${file}:`;
  if (spec.type === "boolean") {
    if (typeof raw === "boolean") return raw;
    throw new UsageError(`${cmd}: ${where} ${name} must be true or false`);
  }
  if (spec.multiple) {
    const list = Array.isArray(raw) ? raw : [raw];
    if (!list.every((v) => typeof v === "string" || typeof v === "number")) {
      throw new UsageError(`${cmd}: ${where} ${name} must be a string or a list of strings`);
    }
    return list.map(String);
  }
  if (typeof raw === "string" || typeof raw === "number") return String(raw);
  throw new UsageError(`${cmd}: ${where} ${name} must be a string or a number`);
}

export function loadConfigFile(cmd: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(
      `${cmd}: cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text); // JSON is YAML too
  } catch (err) {
    throw new UsageError(`${cmd}: config file ${file}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new UsageError(`${cmd}: config file ${file} must hold a mapping of option names to values`);
  }
  return doc as Record<string, unknown>;
}

/**
 * Fills every option not given as a flag from the environment, then the config file named by
 * `config` (flag or FLOWLENS_CONFIG), then its default. Unknown keys in the file are an error,
 * so a typo never silently leaves a setting at its default.
 */
export function resolveSettings(
  cmd: string,
  options: Record<string, OptionSpec>,
  flags: Record<string, Value>,
  env: NodeJS.ProcessEnv,
): Record<string, Value> {
  const out: Record<string, Value> = { ...flags };
  const configPath = (flags.config as string | undefined) ?? (options.config ? env[envName("config")] : undefined);
  const file = configPath ? loadConfigFile(cmd, configPath) : {};
  for (const key of Object.keys(file)) {
    if (!(key in options) || key === "config") {
      throw new UsageError(`${cmd}: config file ${configPath}: unknown setting '${key}' (see flowlens ${cmd} --help)`);
    }
  }
  for (const [name, spec] of Object.entries(options)) {
    if (out[name] !== undefined) continue;
    const envValue = env[envName(name)];
    if (envValue !== undefined && name !== "config") {
      out[name] = fromText(cmd, name, spec, envValue, `environment ${envName(name)}:`);
    } else if (file[name] !== undefined) {
      out[name] = fromFile(cmd, name, spec, file[name], configPath as string);
    }
  }
  return out;
}
