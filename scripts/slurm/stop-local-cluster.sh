#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by scripts/slurm/start-local-cluster.sh:
#
#     sudo scripts/slurm/stop-local-cluster.sh /tmp/mos-slurm     # the same STATE_DIR as at start
#
# Cancels every job and waits for the queue to drain first (killing slurmd leaves running job steps
# behind), then stops slurmd, slurmctld and munged (when the start script started it), and removes the state,
# the pid files and /etc/slurm/slurm.conf when this script's start script wrote it. Safe to run
# twice, and when nothing is running.

set -uo pipefail

MARKER="# written by mos scripts/slurm/start-local-cluster.sh"
CONF=/etc/slurm/slurm.conf
STATE=${1:-}
if [[ -z "$STATE" ]]; then
  echo "usage: $0 STATE_DIR" >&2
  exit 2
fi
if [[ -e "$CONF" ]] && ! grep -qxF "$MARKER" "$CONF"; then
  echo "stop-local-cluster: $CONF belongs to another cluster; not stopping anything" >&2
  exit 5
fi

if squeue --noheader >/dev/null 2>&1; then
  scancel --partition=debug 2>/dev/null || true
  for _ in $(seq 1 100); do
    [[ -z "$(squeue --noheader --states=PENDING,RUNNING,COMPLETING,CONFIGURING --format=%i 2>/dev/null)" ]] && break
    sleep 0.2
  done
fi

running() {  # pid -> true while the process exists and is not a zombie
  [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

pids=()
files=("$STATE"/run/slurmd.pid "$STATE"/run/slurmctld.pid)
[[ -e "$STATE"/run/munged.ours ]] && files+=(/run/munge/munged.pid)
for f in "${files[@]}"; do
  if [[ -s "$f" ]]; then
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && pids+=("$pid")
  fi
done
for _ in $(seq 1 50); do  # wait until they are gone (at most 10 s), then force it
  alive=0
  for pid in "${pids[@]}"; do running "$pid" && alive=1; done
  [[ $alive -eq 0 ]] && break
  sleep 0.2
done
for pid in "${pids[@]}"; do running "$pid" && kill -9 "$pid" 2>/dev/null; done

rm -rf "$STATE"/ctld "$STATE"/spool "$STATE"/run
[[ -e "$CONF" ]] && rm -f "$CONF"
echo "stop-local-cluster: stopped (logs kept in $STATE/log)"
exit 0
