#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster (munged + slurmctld + slurmd) on this machine, for
# testing the SLURM profile (tests/test_slurm.py). Debian/Ubuntu, as root, no systemd needed:
#
#     sudo scripts/slurm/start-local-cluster.sh /tmp/mos-slurm     # state, logs and pid files go there
#     sinfo                                                         # -> debug* up infinite 1 idle localhost
#     sudo scripts/slurm/stop-local-cluster.sh /tmp/mos-slurm
#
# Installs slurmctld, slurmd, slurm-client and munge with apt-get when they are missing. Running it
# again restarts the daemons. The node is `localhost` (no dependence on the host name), with every
# CPU and 80% of the memory, in one partition `debug`; no accounting database (use the profile
# setting `slurm-status-command: squeue`), no cgroups.
#
# The config must live at /etc/slurm/slurm.conf, the path compiled into SLURM: jobs launched by
# snakemake-executor-plugin-slurm-jobstep lose a SLURM_CONF variable. This script only writes that
# file when it is absent or was written by this script (it carries MARKER); a real cluster's config
# is never touched.
#
# Exit status: 0 running; 2 usage; 3 not root; 4 packages missing and not installable;
# 5 /etc/slurm/slurm.conf belongs to another cluster; 1 the daemons did not come up (logs printed).

set -euo pipefail

MARKER="# written by mos scripts/slurm/start-local-cluster.sh"
CONF=/etc/slurm/slurm.conf
NODE=localhost

STATE=${1:-}
if [[ -z "$STATE" ]]; then
  echo "usage: $0 STATE_DIR" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "start-local-cluster: must run as root (writes $CONF, starts munged/slurmctld/slurmd)" >&2
  exit 3
fi
if [[ -e "$CONF" ]] && ! grep -qxF "$MARKER" "$CONF"; then
  echo "start-local-cluster: $CONF exists and was not written by this script (a real cluster?); leaving it alone" >&2
  exit 5
fi

# ---------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  echo "start-local-cluster: installing slurmctld slurmd slurm-client munge" >&2
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         slurmctld slurmd slurm-client munge >/dev/null; }; then
    echo "start-local-cluster: apt-get could not install the SLURM packages" >&2
    exit 4
  fi
fi

STATE=$(mkdir -p "$STATE" && cd "$STATE" && pwd)
mkdir -p "$STATE"/ctld "$STATE"/spool "$STATE"/log "$STATE"/run
chown -R slurm:slurm "$STATE"/ctld "$STATE"/log "$STATE"/run
if ! su -s /bin/sh slurm -c "test -w '$STATE/ctld' && test -w '$STATE/log'"; then
  echo "start-local-cluster: the slurm user cannot reach $STATE (a parent folder is private, e.g. mode 0700);" \
       "use a state folder under a world-readable path such as /tmp/mos-slurm" >&2
  exit 1
fi

# ---------------------------------------------------------------- munge (authentication)
if [[ ! -s /etc/munge/munge.key ]]; then
  mungekey --create --force
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 755 /run/munge    # /run is not persistent: recreate every time
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  su -s /bin/sh munge -c /usr/sbin/munged
  touch "$STATE"/run/munged.ours    # the stop script stops only a munged started here
fi

# ---------------------------------------------------------------- slurm.conf
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
stop_daemon() {  # pid file -> kill the daemon it names, if running
  [[ -s "$1" ]] && kill "$(cat "$1")" 2>/dev/null && sleep 0.5 || true
}
stop_daemon "$STATE"/run/slurmd.pid
stop_daemon "$STATE"/run/slurmctld.pid

mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<EOF
$MARKER
# A one-node test cluster; remove with scripts/slurm/stop-local-cluster.sh (state in $STATE).
ClusterName=mos-local
SlurmctldHost=$NODE
SlurmUser=slurm
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to 'squeue --states=all' (the profile's status command) for an hour.
MinJobAge=3600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# ---------------------------------------------------------------- daemons
/usr/sbin/slurmctld -i          # forks; drops to SlurmUser
/usr/sbin/slurmd -N "$NODE"     # forks; stays root to launch jobs
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  if timeout 5 sinfo --noheader --format=%T 2>/dev/null | grep -qx idle; then
    echo "start-local-cluster: up (node $NODE, $CPUS CPUs, $MEM_MB MB; state in $STATE)"
    exit 0
  fi
  sleep 0.2
done
echo "start-local-cluster: slurm did not come up within 30 s; last log lines:" >&2
for log in "$STATE"/log/*.log; do echo "== $log" >&2; tail -n 20 "$log" >&2; done
stop_daemon "$STATE"/run/slurmd.pid
stop_daemon "$STATE"/run/slurmctld.pid
exit 1
