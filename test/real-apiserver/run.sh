#!/bin/bash
# make test-real-apiserver: the checks of real-apiserver.check.ts inside a
# network namespace of their own (vrfwall-realapi-<pid>, only its loopback):
# etcd, kube-apiserver and the agent listen and talk on 127.0.0.1 there, and
# nowhere else. nsenter --net (not `ip netns exec`): the host's /sys, and so
# bpffs, stay visible to the agent.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KUBE_APISERVER:?usage: make test-real-apiserver KUBE_APISERVER=/path/to/kube-apiserver [KUBECTL=...] [ETCD=etcd] [QUIET_SECONDS=100]}"
export KUBE_APISERVER KUBECTL ETCD QUIET_SECONDS
export REALAPI_SUMMARY="$PWD/build/real-apiserver-summary.txt"
for bin in "$KUBE_APISERVER" "$KUBECTL" "$ETCD"; do
  command -v "$bin" >/dev/null || { echo "not found: $bin" >&2; exit 2; }
done
ns="vrfwall-realapi-$$"
cleanup() { ip netns delete "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
rm -f "$REALAPI_SUMMARY"
status=0
nsenter --net="/run/netns/$ns" -- node_modules/.bin/vitest run --config test/real-apiserver/vitest.config.ts || status=$?
echo
if [ -f "$REALAPI_SUMMARY" ]; then cat "$REALAPI_SUMMARY"; else echo "no summary: the run did not get as far as the checks"; status=1; fi
exit $status
