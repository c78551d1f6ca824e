#!/usr/bin/env bash
# Idle RSS of `forge-manager run` (release) against the test API server and a fake node.
# Run from the repository root after `cargo build --profile dist --bin forge-manager` (PROFILE=release
# to measure that one) and `cargo build -p forge-sim`. EXTRA_ENV adds variables (MALLOC_ARENA_MAX=1).
set -euo pipefail
ROOT=$(pwd); T=$(mktemp -d)
SIM=$ROOT/${TARGET_DIR:-target}/debug/forge-sim; FM=$ROOT/${TARGET_DIR:-target}/${PROFILE:-dist}/forge-manager
cd "$T"
$SIM apiserver --listen 127.0.0.1:0 > api.out 2>&1 & AP=$!
sleep 0.5; URL=$(awk '{print $NF}' api.out)
printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster: {server: "%s"}\nusers:\n- name: u\n  user: {token: dummy}\ncontexts:\n- name: sim\n  context: {cluster: sim, user: u, namespace: default}\ncurrent-context: sim\n' "$URL" > kc
mkdir -p s d t
# Real and decoy sets: two decoy sets (throw-away cold keys) serve as "real" and "decoy" here.
$FM decoy-credentials --out s >/dev/null
$FM decoy-credentials --out d >/dev/null
cp -p d/kes.skey d/vrf.skey d/node.cert t/
$SIM fake-node --socket-path $T/n.sock --metrics-listen 127.0.0.1:18601 --kes t/kes.skey --vrf t/vrf.skey --opcert t/node.cert --startup 300ms > node.out 2>&1 & NP=$!
env -i PATH=$PATH ${EXTRA_ENV:-} KUBECONFIG=$T/kc POD_NAME=bp-0 NODE_SOCKET=$T/n.sock NODE_METRICS_URL=http://127.0.0.1:18601/metrics \
  SOURCE_KES_KEY=$T/s/kes.skey SOURCE_VRF_KEY=$T/s/vrf.skey SOURCE_OP_CERT=$T/s/node.cert \
  TARGET_KES_KEY=$T/t/kes.skey TARGET_VRF_KEY=$T/t/vrf.skey TARGET_OP_CERT=$T/t/node.cert \
  SOURCE_DECOY_DIR=$T/d HEARTBEAT_PATH=$T/t/hb METRICS_PORT=18602 JOURNAL_PATH=$T/j \
  $FM run > run.out 2> run.err & RP=$!
# Its watchdog, as in the pod: the same binary, the same heartbeat file.
env -i PATH=$PATH ${EXTRA_ENV:-} POD_NAME=bp-0 HEARTBEAT_PATH=$T/t/hb TARGET_KES_KEY=$T/t/kes.skey \
  TARGET_VRF_KEY=$T/t/vrf.skey TARGET_OP_CERT=$T/t/node.cert $FM watchdog > wd.out 2>&1 & WP=$!
sleep 5;  echo "after 5s:  $(grep VmRSS /proc/$RP/status) role=$(curl -s localhost:18602/status | sed 's/.*"role":"\([a-z]*\)".*/\1/')"
sleep 15; grep -E "RssAnon|RssFile|Threads" /proc/$RP/status | tr -s '\t ' ' '
echo "after 20s: $(grep VmRSS /proc/$RP/status) role=$(curl -s localhost:18602/status | sed 's/.*"role":"\([a-z]*\)".*/\1/') hwm=$(grep VmHWM /proc/$RP/status)"
# The pair: RSS counts the binary's pages in each process; Pss splits the shared ones between them
# (one copy in memory when both run the same image on one node).
for p in $RP $WP; do echo "pid $p $(tr '\0' ' ' < /proc/$p/cmdline | awk '{print $2}'): $(grep VmRSS /proc/$p/status | tr -s '\t ' ' ') Pss:$(awk '/^Pss:/{print $2" kB"}' /proc/$p/smaps_rollup) threads $(awk '/^Threads/{print $2}' /proc/$p/status)"; done
curl -s localhost:18602/metrics | grep -E '^cardano_forging_enabled|^cardano_forging_active'
kill -TERM $RP; kill $WP 2>/dev/null || true; sleep 2; kill $NP $AP 2>/dev/null || true; wait 2>/dev/null || true
rm -rf "$T"
