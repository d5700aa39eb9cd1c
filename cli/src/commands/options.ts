// Options several subcommands share, declared once.
export const timeouts = {
  "idle-timeout": {
    type: "string",
    placeholder: "S",
    description: "Seconds without packets before a flow ends",
    default: "30",
  },
  "active-timeout": {
    type: "string",
    placeholder: "S",
    description: "Seconds after which a long flow is exported and continues",
    default: "300",
  },
} as const;

export const configFile = {
  config: {
    type: "string",
    short: "c",
    placeholder: "FILE",
    description: "Configuration file (YAML or JSON); flags and FLOWLENS_* environment variables override it",
  },
  "log-level": {
    type: "string",
    placeholder: "LEVEL",
    description: "Log level: debug, info, warn, error",
    default: "info",
  },
} as const;
