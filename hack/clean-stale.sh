#!/usr/bin/env bash
# Removes network namespaces left by test runs that were killed (their pid is gone), so a
# new run starts clean. Only flowlens-<pid>-* namespaces are touched.
set -u
command -v ip >/dev/null || exit 0
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^flowlens-' || true); do
  pid=${ns#flowlens-}; pid=${pid%%-*}
  if ! kill -0 "$pid" 2>/dev/null; then ip netns del "$ns" 2>/dev/null && echo "clean-stale: removed $ns"; fi
done
exit 0
