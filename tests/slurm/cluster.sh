#!/usr/bin/env bash
# cluster.sh: a private one-node Slurm cluster on 127.0.0.1 for tests/slurm_spec.lua:
# munged, slurmctld and slurmd, each with its own config, key, socket, spool, state
# and log under one folder. Nothing of the machine's own configuration is read or
# written (no /etc/slurm, no /etc/munge, no systemd): every daemon and client gets
# explicit paths (-f / SLURM_CONF, --socket, --key-file, AuthInfo=socket=...).
#
#   tests/slurm/cluster.sh start DIR [OWNER_PID]
#       installs Debian's slurm-wlm and munge when missing (apt-get; needs root),
#       writes DIR/slurm.conf and a fresh munge key, starts the three daemons,
#       waits until the node is idle, and prints SLURM_CONF=DIR/slurm.conf. With
#       OWNER_PID, a watchdog stops the daemons once that process is gone (a test
#       killed before its teardown leaves nothing running). On any failure it
#       prints the daemons' logs, stops what it started and exits non-zero.
#   tests/slurm/cluster.sh stop DIR
#       stops the processes it started, by the pids it recorded in DIR/pids
#       (each checked against its command name first, so a reused pid is spared).
#
# Container pitfalls met on the way (Debian 12, slurm-wlm 22.05, gVisor "runsc",
# 2 vCPUs, no systemd, no cgroups) and what this script does about them:
#   * the packages' postinst scripts cannot start services (policy-rc.d denies it,
#     there is no systemd): we start the daemons ourselves, in the foreground
#     (-D / -F) as background children, and record their pids;
#   * munged refuses a socket whose folder, or any folder above it, is not
#     executable by all ("Socket is inaccessible"; mktemp -d makes 0700 folders):
#     the socket lives in its own 0755 folder /tmp/cinterp-munge.XXXXXX (named in
#     DIR/munge_socket_dir, removed by stop); the key is 0400 under DIR/munge;
#   * cgroups are unavailable: proctrack/linuxproc, task/none,
#     jobacct_gather/none, no cgroup.conf; nothing asks for cgroup plugins;
#   * the node's name is not the host's: slurmd -N cinode with NodeName=cinode,
#     NodeAddr=127.0.0.1, and SlurmctldHost=<short hostname>(127.0.0.1), which
#     slurmctld needs to recognise itself as the controller;
#   * slurmd finds another socket/core layout than configured ("Node configuration
#     differs from hardware"): SlurmdParameters=config_overrides keeps the node up;
#   * the mpi/pmix plugins log "can not load PMIx library" at start: harmless
#     (MpiDefault=none); MailProg=/bin/true silences "Configured MailProg is invalid";
#   * other test runs may hold Slurm's default ports: SlurmctldPort and SlurmdPort
#     are two free ports picked at random;
#   * sbatch --wait polls the controller (every few seconds): a job array of short
#     tasks still takes ~10 s from submission to return.
set -u

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR [OWNER_PID]" >&2
  exit 2
fi

stop() {
  local d=$1
  [ -f "$d/pids" ] || return 0
  local line pid name
  while read -r line; do
    pid=${line%% *}; name=${line#* }
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then
      kill "$pid" 2>/dev/null
    fi
  done < "$d/pids"
  for _ in $(seq 50); do
    local alive=0
    while read -r line; do
      pid=${line%% *}; name=${line#* }
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then alive=1; fi
    done < "$d/pids"
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  while read -r line; do
    pid=${line%% *}; name=${line#* }
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then
      kill -9 "$pid" 2>/dev/null
    fi
  done < "$d/pids"
  rm -f "$d/pids"
  if [ -f "$d/munge_socket_dir" ]; then
    local sd
    sd=$(cat "$d/munge_socket_dir")
    case "$sd" in /tmp/cinterp-munge.*) rm -rf "$sd" ;; esac
    rm -f "$d/munge_socket_dir"
  fi
}

if [ "$cmd" = stop ]; then
  stop "$dir"
  exit 0
fi
[ "$cmd" = start ] || { echo "$0: unknown command $cmd" >&2; exit 2; }
owner=${3:-}

fail() {
  echo "cluster.sh: $*" >&2
  for f in "$dir"/log/*; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  stop "$dir"
  exit 1
}

# 1. the packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
   ! command -v munged >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "cluster.sh: slurm-wlm / munge are missing and we are not root" >&2; exit 77; }
  echo "cluster.sh: installing slurm-wlm and munge" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1; } ||
    { echo "cluster.sh: apt-get could not install slurm-wlm and munge" >&2; exit 1; }
fi

# 2. folders and the munge key
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" || fail "cannot create $dir"
chmod 700 "$dir/munge"
: > "$dir/pids"
sockdir=$(mktemp -d /tmp/cinterp-munge.XXXXXX) || fail "cannot create the socket folder"
chmod 755 "$sockdir"
echo "$sockdir" > "$dir/munge_socket_dir"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null || fail "cannot write the munge key"
chmod 400 "$dir/munge/munge.key"

record() { echo "$1 $2" >> "$dir/pids"; }

# 3. munged
sock="$sockdir/munge.socket"
munged -F --socket="$sock" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --seed-file="$dir/munge/munged.seed" --log-file="$dir/log/munged.log" > "$dir/log/munged.out" 2>&1 &
record $! munged
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "munged did not create its socket"

# 4. two free ports
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p" && port_free "$((p + 1))"; then echo "$p"; return 0; fi
  done
  return 1
}
port=$(pick_port) || fail "no free port"

# 5. the configuration
host=$(hostname -s)
cat > "$dir/slurm.conf" <<EOF
# written by tests/slurm/cluster.sh: a private one-node cluster on 127.0.0.1
ClusterName=cinterptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
SlurmUser=$(id -un)
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=cinode NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=cinode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

# 6. the daemons
slurmctld -D -f "$SLURM_CONF" > "$dir/log/slurmctld.out" 2>&1 &
record $! slurmctld
slurmd -D -N cinode -f "$SLURM_CONF" > "$dir/log/slurmd.out" 2>&1 &
record $! slurmd

# 7. wait for an idle node
state=""
for _ in $(seq 120); do
  state=$(sinfo -h -n cinode -o %t 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "the node did not come up (state '$state')"

if [ -n "$owner" ]; then
  # the watchdog: stops the daemons once the owner process is gone
  ( trap '' HUP
    while kill -0 "$owner" 2>/dev/null && [ -f "$dir/pids" ]; do sleep 2; done
    "$0" stop "$dir" ) > /dev/null 2>&1 < /dev/null &
fi
echo "SLURM_CONF=$SLURM_CONF"
