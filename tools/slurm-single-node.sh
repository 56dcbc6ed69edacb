#!/usr/bin/env bash
# A one-node Slurm cluster on localhost (munged, slurmctld, slurmd; CPU only) for testing the job runner for real.
#   bash tools/slurm-single-node.sh start   installs slurm-wlm and munge if missing (apt-get), writes the
#                                           configuration, starts the daemons and waits until the node is idle
#   bash tools/slurm-single-node.sh stop    stops the daemons this script started (their pids are in $STATE)
#   bash tools/slurm-single-node.sh status  sinfo
# Needs root (or password-less sudo). It writes /etc/slurm/slurm.conf: do not use it on a machine with a real Slurm.
# Known to work on Debian 12 (slurm-wlm 22.05) in a container: ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
# no cgroup.conf, no accounting.
set -euo pipefail
STATE="${SLURM_SINGLE_NODE_STATE:-/tmp/collapse-repro-slurm}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
log() { echo "[slurm-single-node] $*"; }

start() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
        log "installing slurm-wlm and munge (apt-get)"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null \
          || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null; }
    fi
    mkdir -p "$STATE"
    # munge: a key, then the daemon (as the munge user), unless one already answers
    if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        [ -s /etc/munge/munge.key ] || $SUDO sh -c 'dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null'
        $SUDO chown munge:munge /etc/munge/munge.key; $SUDO chmod 400 /etc/munge/munge.key
        $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge; $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
        $SUDO runuser -u munge -- /usr/sbin/munged
        sleep 0.5; cat /run/munge/munged.pid > "$STATE/munged.pid"
        log "munged started (pid $(cat "$STATE/munged.pid"))"
    fi
    local host node
    host="$(hostname -s)"
    node="$(slurmd -C | head -1 | sed -E 's/ (Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|UpTime)=[^ ]*//g')"
    $SUDO mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    $SUDO tee /etc/slurm/slurm.conf >/dev/null <<EOF
# written by collapse_repro tools/slurm-single-node.sh: a one-node test cluster
ClusterName=collapse-repro
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=600
${node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    # a fresh controller state each time (-c), so nothing of an earlier test cluster is recovered
    $SUDO slurmctld -c; $SUDO slurmd -c
    for _ in $(seq 1 60); do
        [ -s /run/slurmctld.pid ] && [ -s /run/slurmd.pid ] && sinfo -h -o '%t' 2>/dev/null | grep -qx idle && break
        sleep 0.5
    done
    cat /run/slurmctld.pid > "$STATE/slurmctld.pid"; cat /run/slurmd.pid > "$STATE/slurmd.pid"
    sinfo -h -o '%t' | grep -qx idle || { log "the node did not come up: see /var/log/slurm/"; sinfo || true; exit 1; }
    log "up: $(sinfo -h -o '%P %D node(s) %c CPUs %t')"
}

stop() {
    for d in slurmd slurmctld munged; do
        f="$STATE/$d.pid"; [ -s "$f" ] || continue
        pid="$(cat "$f")"
        if kill -0 "$pid" 2>/dev/null; then $SUDO kill "$pid"; log "stopped $d (pid $pid)"; fi
        rm -f "$f"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
