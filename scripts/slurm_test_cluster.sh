#!/usr/bin/env bash
# A throw-away one-node SLURM cluster on localhost, for tests (Debian/Ubuntu, as root, no systemd).
#
#   bash scripts/slurm_test_cluster.sh up   DIR   # install slurm-wlm + munge if missing, start munged,
#                                                # slurmctld, slurmd; wait until the node is idle
#   bash scripts/slurm_test_cluster.sh down DIR   # stop the daemons started by `up DIR`, by pid file
#
# DIR holds the cluster's state, spool, logs and pid files. The node has this machine's CPUs,
# 80% of its memory and two fake GPUs (GRES backed by /dev/null and /dev/zero): jobs that ask
# for GPUs get CUDA_VISIBLE_DEVICES but no real device. No accounting daemon: use
# `slurm-status-command: squeue` (profiles/slurm-ci). Recipe and traps: docs/slurm.md.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"   # the daemons and runuser live in sbin

MARKER="# written by s1 scripts/slurm_test_cluster.sh"
CURRENT=/run/s1-slurm-test-cluster   # the DIR of the cluster running now, if any

usage() { echo "usage: $0 up|down DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
D=$(mkdir -p "$2" && cd "$2" && pwd)

stop_pidfile() {  # stop one daemon by its pid file and wait for it to exit
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

down() {
  local dir=$1
  stop_pidfile "$dir/run/slurmd.pid"
  stop_pidfile "$dir/run/slurmctld.pid"
  # munged only if this cluster started it (it may serve something else)
  if [ -e "$dir/run/munged.ours" ]; then stop_pidfile /run/munge/munged.pid; rm -f "$dir/run/munged.ours"; fi
  if [ -f "$CURRENT" ] && [ "$(cat "$CURRENT")" = "$dir" ]; then rm -f "$CURRENT"; fi
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
      && command -v sbatch >/dev/null; then
    return 0
  fi
  command -v apt-get >/dev/null || { echo "slurm_test_cluster: slurm-wlm is missing and there is no apt-get" >&2; exit 3; }
  export DEBIAN_FRONTEND=noninteractive
  # no service may start during the install: this script starts the daemons itself
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"
  fi
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } >"$D/apt.log" 2>&1 || rc=$?
  [ -z "$policy" ] || rm -f "$policy"
  if [ $rc -ne 0 ]; then tail -20 "$D/apt.log" >&2; exit 3; fi
}

up() {
  [ "$(id -u)" -eq 0 ] || { echo "slurm_test_cluster: must run as root" >&2; exit 3; }
  if [ -f "$CURRENT" ]; then down "$(cat "$CURRENT")"; fi   # a cluster left by a killed run
  local t0 t1 t2
  t0=$(date +%s.%N)
  install_packages
  t1=$(date +%s.%N)

  mkdir -p "$D"/{state,spool,log,run} /etc/slurm /run/munge
  chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  # never overwrite a real cluster's config
  for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    if [ -s "$f" ] && ! grep -qF "$MARKER" "$f"; then
      echo "slurm_test_cluster: $f exists and is not ours; refusing to overwrite it" >&2; exit 3
    fi
  done

  local ncpu mem
  ncpu=$(nproc)
  mem=$(awk '/MemTotal/{print int($2/1024*0.8)}' /proc/meminfo)   # 80% of RAM, in MB
  # The config must be at the default path: the jobstep plugin drops SLURM_CONF inside jobs.
  cat >/etc/slurm/slurm.conf <<EOF
$MARKER for the cluster in $D
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
# no cgroups: plain process tracking (cgroup device constraints break the fake GPUs)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: sacct does not work, status goes through squeue
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# without it a job with no --mem takes the whole node
DefMemPerCPU=1000
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
# finished jobs stay visible to squeue (the plugin's status source; it needs >= 3x its status
# interval) for an hour, so tests can check every job of a run after it ends
MinJobAge=3600
GresTypes=gpu
NodeName=localhost CPUs=$ncpu RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  # two fake GPUs: a GPU GRES without File= is dropped by slurmd
  cat >/etc/slurm/gres.conf <<EOF
$MARKER
AutoDetect=off
NodeName=localhost Name=gpu File=/dev/null
NodeName=localhost Name=gpu File=/dev/zero
EOF

  if [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    :  # a munged is already serving this machine
  else
    runuser -u munge -- /usr/sbin/munged
    touch "$D/run/munged.ours"
  fi
  echo "$D" >"$CURRENT"
  slurmctld
  slurmd -N localhost
  local state=""
  for _ in $(seq 1 120); do
    state=$(sinfo -h -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    echo "slurm_test_cluster: node not idle after 60 s (state '$state'); logs in $D/log" >&2
    tail -20 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2 || true
    down "$D"; exit 4
  fi
  timeout 60 srun -t 1 true
  t2=$(date +%s.%N)
  sinfo -o '%P %N %t %c %m %G'
  awk -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN{printf "slurm_test_cluster: install %.1f s, config+start+first srun %.1f s\n", b-a, c-b}'
}

case "$cmd" in
  up) up ;;
  down) down "$D" ;;
  *) usage ;;
esac
