#!/usr/bin/env bash
# One-node Slurm cluster on this machine (munged + slurmctld + slurmd, partition
# "debug"), to exercise `bench run --launcher slurm` for real, e.g.
#   bash scripts/slurm_local.sh && pytest -m slow tests/test_launch.py
# For a root container/VM WITHOUT systemd (Debian bookworm, Slurm 22.05); no
# cgroups are used (proctrack/linuxproc, task/none). Not used by CI.
# Idempotent: installs packages if missing, (re)writes the config, starts only
# the daemons that are not running, waits for the node to be idle, prints sinfo.
# Stop:  kill "$(cat /run/slurm/slurmd.pid)" "$(cat /run/slurm/slurmctld.pid)" "$(cat /run/munge/munged.pid)"
set -euo pipefail

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge
fi

# --- munge ---
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
  runuser -u munge -- /usr/sbin/munged
  sleep 1
  munge -n | unmunge >/dev/null
fi

# --- config ---
NODE=$(hostname -s)
MEM=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
CPUS=$(nproc)
install -d -m 0755 /etc/slurm /run/slurm /var/log/slurm /var/spool/slurmctld /var/spool/slurmd
cat >/etc/slurm/slurm.conf.new <<EOF
# Written by scripts/slurm_local.sh -- one-node local cluster, no systemd/cgroups.
ClusterName=local
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
KillWait=5
MinJobAge=300
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
EOF
changed=0
if ! cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then
  mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; changed=1
else
  rm -f /etc/slurm/slurm.conf.new
fi

# --- daemons ---
running() { [ -s "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$2" ]; }
if [ "$changed" = 1 ]; then  # config changed: restart whatever is running
  for d in slurmd slurmctld; do
    if running "/run/slurm/$d.pid" "$d"; then kill "$(cat "/run/slurm/$d.pid")"; sleep 2; fi
  done
fi
running /run/slurm/slurmctld.pid slurmctld || slurmctld
running /run/slurm/slurmd.pid slurmd || slurmd

for _ in $(seq 60); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  case "$state" in
    idle|mixed|allocated) break ;;
    drain*|down*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
sinfo
case "$state" in
  idle|mixed|allocated) ;;
  *) echo "node ${NODE} not ready (state: '${state}'); see /var/log/slurm/*.log" >&2; exit 1 ;;
esac
