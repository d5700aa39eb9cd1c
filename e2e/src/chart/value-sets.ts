// The values the chart is rendered, linted and validated with: each turns a different part of
// the templates on or off, so that every branch is checked against the Kubernetes schemas.

export interface ValueSet {
  name: string;
  values: Record<string, unknown>;
}

export const VALUE_SETS: ValueSet[] = [
  { name: "defaults", values: {} },
  {
    name: "everything",
    values: {
      image: { repository: "registry.example.net/flowlens/flowlens", tag: "0.1.0-rc.1" },
      imagePullSecrets: [{ name: "registry" }],
      operator: {
        image: {
          repository: "registry.example.net:5000/flowlens/flowlens-operator",
          digest: `sha256:${"ab".repeat(32)}`,
          pullPolicy: "Always",
        },
        replicas: 2,
        podAnnotations: { "example.net/team": "netops" },
        podLabels: { team: "netops" },
        nodeSelector: { "kubernetes.io/os": "linux" },
        tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: {
                  topologyKey: "kubernetes.io/hostname",
                  labelSelector: { matchLabels: { "app.kubernetes.io/component": "operator" } },
                },
              },
            ],
          },
        },
        priorityClassName: "flowlens-critical",
        extraEnv: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=192" }],
        resources: { requests: { cpu: "100m", memory: 128 * 1024 * 1024 }, limits: { cpu: 1, memory: "512Mi" } },
      },
      serviceAccount: { annotations: { "example.net/role": "flowlens" } },
      flowCollector: {
        create: true,
        name: "flowlens",
        spec: {
          listeners: { netflowPort: 2055, sflowPort: 6343 },
          serviceType: "LoadBalancer",
          localNetworks: ["10.0.0.0/8", "fd00::/8"],
          metrics: { topHosts: 200 },
          networkPolicy: { enabled: true, apiNamespaces: ["monitoring"] },
          resources: { requests: { cpu: "500m", memory: "1Gi" } },
        },
      },
      flowProbe: {
        create: true,
        name: "nodes",
        spec: {
          tolerations: [{ operator: "Exists" }],
          excludeInterfaces: ["docker*"],
          sampling: 10,
          timeouts: { idleSeconds: 15, activeSeconds: 60 },
        },
      },
      monitoring: { enabled: true, interval: "15s", scrapeTimeout: "5s", labels: { release: "kube-prometheus-stack" } },
      dashboards: { namespace: "monitoring", annotations: { "grafana.example.net/folder": "Network" } },
    },
  },
  {
    name: "some-namespaces",
    values: {
      operator: { watchNamespaces: ["team-a", "team-b"], leaderElection: { enabled: false }, logLevel: "debug" },
      flowCollector: { create: true, name: "team-a" },
      flowProbe: { create: true, name: "team-a", spec: { collectorRef: { name: "team-a", namespace: "team-a" } } },
      monitoring: { enabled: true, operator: false },
    },
  },
  {
    name: "bring-your-own-rbac",
    values: {
      rbac: { create: false },
      serviceAccount: { create: false, name: "flowlens-operator-managed" },
      dashboards: { enabled: false },
      operator: { replicas: 0 },
    },
  },
];

/** Values values.schema.json must refuse, with a part of the message helm prints. */
export const BAD_VALUE_SETS: Array<ValueSet & { error: RegExp }> = [
  { name: "misspelt key", values: { operator: { replica: 2 } }, error: /replica/ },
  {
    name: "two replicas without leader election",
    values: { operator: { replicas: 2, leaderElection: { enabled: false } } },
    error: /leaderElection|enabled/,
  },
  {
    name: "collector name too long for its Services",
    values: { flowCollector: { name: "x".repeat(53) } },
    error: /name/,
  },
  { name: "collector name not a DNS label", values: { flowCollector: { name: "Flow_Lens" } }, error: /name/ },
  { name: "digest that is not sha256", values: { image: { digest: "sha256:xyz" } }, error: /digest/ },
  { name: "watched namespace twice", values: { operator: { watchNamespaces: ["a", "a"] } }, error: /watchNamespaces/ },
  { name: "unknown log level", values: { operator: { logLevel: "verbose" } }, error: /logLevel/ },
  { name: "interval without unit", values: { monitoring: { interval: "30" } }, error: /interval/ },
  { name: "privileged metrics port", values: { operator: { metrics: { port: 80 } } }, error: /port/ },
  { name: "unknown top-level key", values: { serviceMonitor: { enabled: true } }, error: /serviceMonitor/ },
  // Kubernetes drops unknown fields with a mere warning: a misspelt toleration would never tolerate.
  {
    name: "misspelt toleration field",
    values: { operator: { tolerations: [{ key: "dedicated", efect: "NoSchedule" }] } },
    error: /efect/,
  },
  {
    name: "environment value not a string",
    values: { operator: { extraEnv: [{ name: "A", value: 1 }] } },
    error: /value/,
  },
];
