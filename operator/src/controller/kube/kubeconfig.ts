// Where the operator's credentials come from: a kubeconfig file, else $KUBECONFIG,
// ~/.kube/config, then the in-cluster service account (client-node's loadFromDefault order).
import { KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error("no cluster: give a kubeconfig, set KUBECONFIG, or run in a Pod with a service account");
  }
  return kc;
}
