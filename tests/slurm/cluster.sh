#!/bin/bash
# A one-node Slurm cluster under directory B, without systemd: munged, slurmctld and slurmd run
# as root with every file (config, key, spool, logs, pidfiles) inside B.
#   cluster.sh setup B    key, directories, slurm.conf
#   cluster.sh start B    start the daemons; returns once the node is idle
#   cluster.sh stop B     cancel leftover jobs, then stop each daemon by the PID in its pidfile
# Pitfalls this encodes: munged needs its socket directory o+x (0755, not 0700); slurm must be
# told the socket (AuthInfo=socket=...); clients need SLURM_CONF; batch_sched_delay=0 avoids a
# 3 s delay before array tasks, sched_interval=2 a 60 s one before a
# job whose dependency is met; CPUs above the real count need SlurmdParameters=config_overrides.
set -euo pipefail
CMD=$1
B=$2
export SLURM_CONF=$B/etc/slurm.conf

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

setup() {
    local host mem
    host=$(hostname -s)
    mkdir -p "$B"/{etc,munge,spool/ctld,spool/d,log,run}
    chmod 755 "$B" # munged wants o+x on every directory above its socket
    chmod 755 "$B/munge"
    dd if=/dev/urandom of="$B/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$B/munge/munge.key"
    getent hosts "$host" > /dev/null || echo "127.0.0.1 $host" >> /etc/hosts
    mem=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512))
    # 8 CPUs on any machine: the coordinator, 3 array workers and the report job are sleepers
    # (synthetic cells), so they may share the real cores.
    cat > "$SLURM_CONF" << CONF
ClusterName=ensweep
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$B/munge/munge.socket.2
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$B/spool/ctld
SlurmdSpoolDir=$B/spool/d
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerParameters=batch_sched_delay=0,sched_interval=2
SlurmdParameters=config_overrides
KillWait=10
MailProg=/bin/true
NodeName=$host CPUs=8 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
    munged --socket="$B/munge/munge.socket.2" --key-file="$B/munge/munge.key" \
        --pid-file="$B/run/munged.pid" --log-file="$B/log/munged.log" \
        --seed-file="$B/munge/munged.seed"
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 1 60); do
        [ "$(sinfo -h -o %T 2> /dev/null)" = idle ] && return 0
        sleep 0.5
    done
    echo "the slurm node did not become idle; logs in $B/log" >&2
    tail -n 20 "$B"/log/*.log >&2
    return 1
}

stop() {
    if [ -s "$B/run/slurmctld.pid" ]; then
        scancel --full --quiet "--user=$(id -un)" 2> /dev/null || true
        for _ in $(seq 1 60); do
            [ -z "$(squeue -h -o %i 2> /dev/null)" ] && break
            sleep 0.5
        done
    fi
    local d f p left=0
    for d in slurmd slurmctld munged; do
        f=$B/run/$d.pid
        [ -s "$f" ] || continue
        p=$(cat "$f")
        kill -TERM "$p" 2> /dev/null || true
        for _ in $(seq 1 40); do kill -0 "$p" 2> /dev/null || break; sleep 0.25; done
        if kill -0 "$p" 2> /dev/null; then kill -KILL "$p" || true; fi
        for _ in $(seq 1 20); do kill -0 "$p" 2> /dev/null || break; sleep 0.25; done
        if kill -0 "$p" 2> /dev/null; then
            echo "$d (pid $p) is still running" >&2
            left=1
        fi
        rm -f "$f"
    done
    [ "$left" = 0 ] || return 1
    echo "stopped slurmd, slurmctld and munged under $B" >&2
}

"$CMD"
