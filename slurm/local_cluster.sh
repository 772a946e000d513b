#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for spf-bench's `make test-slurm`.
#
#   slurm/local_cluster.sh up       # install missing Debian packages, start every daemon
#   slurm/local_cluster.sh down     # stop every daemon (state kept: the next `up` is warm)
#   slurm/local_cluster.sh status   # daemons and `sinfo`
#   slurm/local_cluster.sh conf     # print the SLURM_CONF path only
#   slurm/local_cluster.sh purge    # down, then delete the state directory (next `up` is cold)
#
# `up` is idempotent (daemons already running are left alone) and ends by printing
#     export SLURM_CONF=<state>/etc/slurm.conf
# which every client needs (sbatch, squeue, sacct, and so submitit): `eval "$(... up)"`.
#
# Debian 12 packages (Slurm 22.05): munge, mariadb-server, slurmdbd, slurmctld, slurmd,
# slurm-client; `up` apt-installs the missing ones (needs root). Everything runs as root
# without systemd; all state (munge key and socket, MariaDB data, slurm.conf, spool, logs)
# lives in $SPF_SLURM_STATE (default ${TMPDIR:-/tmp}/spf-bench-slurm). Facts this relies on,
# found by trial: SlurmUser/SlurmdUser root; proctrack/linuxproc and task/none (no cgroups);
# the munge socket directory must be world-executable; slurmctld authenticates to slurmdbd
# only with AccountingStoragePass set to the munge socket; slurmdbd reads slurmdbd.conf
# (mode 0600) beside SLURM_CONF; SlurmctldHost and NodeName equal `hostname -s`; slurmdbd is
# needed because submitit reads job states with sacct (without it, a job that died hard is
# waited on forever). AuthInfo cred_expire (default 120 s) is also how long a requeued job
# is held before it may start again: it is lowered to SPF_SLURM_CRED_EXPIRE (10 s) here, and
# bf_interval/sched_interval to 2 s, so a requeued job restarts ~12 s after it was preempted.
#
# Environment: SPF_SLURM_STATE (state dir), SPF_SLURM_PORT (first of 4 TCP ports: slurmctld,
# slurmd, slurmdbd, MariaDB; default 16817), SPF_SLURM_CRED_EXPIRE (seconds, default 10).
set -euo pipefail

STATE=${SPF_SLURM_STATE:-${TMPDIR:-/tmp}/spf-bench-slurm}
PORT=${SPF_SLURM_PORT:-16817}
CRED_EXPIRE=${SPF_SLURM_CRED_EXPIRE:-10}
CLUSTER=spfbench
PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
HOST=$(hostname -s)
ETC=$STATE/etc
MUNGE_DIR=$STATE/munge
MUNGE_SOCK=$MUNGE_DIR/munge.socket.2
DB_DIR=$STATE/mysql
DB_SOCK=$STATE/mysqld.sock
LOG=$STATE/log
RUN=$STATE/run
CTLD_PORT=$PORT
SLURMD_PORT=$((PORT + 1))
DBD_PORT=$((PORT + 2))
DB_PORT=$((PORT + 3))
DB_PASS=spfbench-local
export SLURM_CONF=$ETC/slurm.conf

say() { echo "[local_cluster] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# wait_for SECONDS WHAT CMD...: poll CMD every 0.5 s until it succeeds.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what not ready after ${secs} s (logs in $LOG)"
    sleep 0.5
  done
}

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

ensure_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  [[ $(id -u) == 0 ]] || die "missing Debian packages (${missing[*]}); installing them needs root"
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$LOG/apt.log" 2>&1 || die "apt-get update failed (see $LOG/apt.log)"
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$LOG/apt.log" 2>&1 \
    || die "apt-get install failed (see $LOG/apt.log)"
}

write_configs() {
  local node cpus mem
  node=$(slurmd -C | head -1) # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=<MiB>
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  mem=$((mem * 9 / 10)) # below what slurmd measures, or the node is drained "Low RealMemory"
  cat >"$ETC/slurm.conf" <<EOF
# Written by slurm/local_cluster.sh: single-node test cluster (Slurm 22.05, root, no systemd).
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK,cred_expire=$CRED_EXPIRE
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
KillWait=5
MinJobAge=600
JobRequeue=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$MUNGE_SOCK
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$ETC/slurmdbd.conf" <<EOF
# Written by slurm/local_cluster.sh.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
  chmod 0600 "$ETC/slurmdbd.conf"
}

start_munge() {
  alive "$RUN/munged.pid" && return
  if [[ ! -s $MUNGE_DIR/munge.key ]]; then
    mungekey --create --keyfile="$MUNGE_DIR/munge.key"
  fi
  chmod 0400 "$MUNGE_DIR/munge.key"
  chmod 0755 "$MUNGE_DIR" # clients (slurmstepd, sbatch) must reach the socket
  rm -f "$MUNGE_SOCK" "$MUNGE_SOCK.lock"
  munged --force --socket="$MUNGE_SOCK" --key-file="$MUNGE_DIR/munge.key" \
    --pid-file="$RUN/munged.pid" --log-file="$LOG/munged.log" --seed-file="$MUNGE_DIR/munged.seed"
  wait_for 20 munged bash -c "munge -n -S '$MUNGE_SOCK' | unmunge -S '$MUNGE_SOCK'"
}

start_mariadb() {
  alive "$RUN/mariadbd.pid" && return
  local fresh=0
  if [[ ! -d $DB_DIR/mysql ]]; then
    fresh=1
    mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR" --skip-test-db \
      --auth-root-authentication-method=socket >"$LOG/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed (see $LOG/mariadb-install.log)"
  fi
  setsid -f mariadbd --no-defaults --user=root --datadir="$DB_DIR" --socket="$DB_SOCK" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$RUN/mariadbd.pid" \
    --log-error="$LOG/mariadbd.log" --skip-log-bin --innodb-buffer-pool-size=64M \
    </dev/null >/dev/null 2>&1
  wait_for 60 mariadbd mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot ping
  if ((fresh)); then
    mariadb --no-defaults --socket="$DB_SOCK" -uroot <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
  fi
}

start_slurmdbd() {
  alive "$RUN/slurmdbd.pid" && return
  slurmdbd # reads slurmdbd.conf beside $SLURM_CONF; daemonises
  wait_for 60 slurmdbd sacctmgr -n show cluster
  if [[ -z $(sacctmgr -n -P show cluster format=cluster where name=$CLUSTER) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
}

node_ready() { sinfo -h -n "$HOST" -o %t | grep -Eq '^(idle|mix|alloc)'; }

start_slurm() {
  alive "$RUN/slurmctld.pid" || slurmctld
  wait_for 60 slurmctld scontrol ping
  alive "$RUN/slurmd.pid" || slurmd
  local end=$((SECONDS + 60))
  until node_ready; do
    if sinfo -h -n "$HOST" -o %t | grep -Eq '^(down|drain|drng)'; then
      scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
    fi
    ((SECONDS < end)) || die "node $HOST not idle after 60 s: $(sinfo -h -N -o '%N %t %E')"
    sleep 0.5
  done
}

up() {
  local t0=$SECONDS
  mkdir -p "$ETC" "$MUNGE_DIR" "$LOG" "$RUN" "$STATE/ctld" "$STATE/slurmd"
  chmod 0755 "$STATE"
  ensure_packages
  write_configs
  start_munge
  start_mariadb
  start_slurmdbd
  start_slurm
  say "cluster '$CLUSTER' up on $HOST in $((SECONDS - t0)) s (state: $STATE)"
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop_daemons() { # stop_daemons NAME...: SIGTERM the daemons of RUN/NAME.pid, wait, then SIGKILL
  local pids=() f
  for name in "$@"; do
    f=$RUN/$name.pid
    if alive "$f"; then
      pids+=("$(cat "$f")")
      kill "${pids[-1]}" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

down() {
  [[ -d $STATE ]] || { say "no cluster state in $STATE"; return 0; }
  # Jobs still running would outlive slurmd (proctrack/linuxproc): cancel them first.
  if alive "$RUN/slurmctld.pid"; then
    scancel --user=root 2>/dev/null || true
  fi
  stop_daemons slurmd slurmctld # slurmctld flushes accounting to slurmdbd, which writes MariaDB
  stop_daemons slurmdbd
  stop_daemons mariadbd munged
  say "cluster stopped (state kept in $STATE; \`$0 purge\` deletes it)"
}

status() {
  for d in munged mariadbd slurmdbd slurmctld slurmd; do
    if alive "$RUN/$d.pid"; then echo "$d: running (pid $(cat "$RUN/$d.pid"))"; else echo "$d: stopped"; fi
  done
  alive "$RUN/slurmctld.pid" && sinfo
  echo "export SLURM_CONF=$SLURM_CONF"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  conf) echo "$SLURM_CONF" ;;
  purge)
    down
    rm -rf "$STATE"
    say "deleted $STATE"
    ;;
  *)
    echo "usage: $0 up|down|status|conf|purge" >&2
    exit 2
    ;;
esac
