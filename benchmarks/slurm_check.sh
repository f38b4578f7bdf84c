#!/usr/bin/env bash
# Check PULSE's `srun` path on a real Slurm: the README's command on the demo corpus,
# once as 2 nodes x 1 task and once as 1 node x 2 tasks; both runs must print the same
# validation and test SI-SNRi.
#
#   bash benchmarks/slurm_check.sh                   # here: a Slurm that answers, or a
#                                                    # one-machine, two-node one it starts
#   SRUN_OPTIONS="-p gpu --gpus-per-node 1" bash benchmarks/slurm_check.sh   # your cluster
#   PULSE_OPTIONS="--method PN" bash benchmarks/slurm_check.sh   # more pulse.py options
#
# With no Slurm answering, and as root, it installs Debian's slurm-wlm and munge if they
# are missing, starts munged (unless it runs), slurmctld and two slurmd daemons (nodes
# node1 and node2 of this machine, one port each) from a configuration in a temporary
# folder, names node1 and node2 in /etc/hosts if they do not resolve, and on exit stops
# every daemon it started and takes those names out again. Run it from anywhere; it runs
# in the repository, with .venv/bin/python if there is one.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
[ -x "$python" ] || python=$(command -v python3)
work=$(mktemp -d /tmp/pulse-slurm-check.XXXXXX)
started=()
hosts_marker="# pulse slurm_check $$"
started_at=$(date +%s)

say() { printf 'slurm_check: %s\n' "$*"; }

cleanup() {
    local pid
    for pid in "${started[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${started[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    if grep -q "$hosts_marker" /etc/hosts 2>/dev/null; then
        sed -i "/$hosts_marker/d" /etc/hosts
    fi
    rm -rf "$work"
}
trap cleanup EXIT

slurm_answers() { command -v sinfo >/dev/null && timeout 10 sinfo -h >/dev/null 2>&1; }

wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
    local limit=$1
    shift
    for _ in $(seq $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

start_local_slurm() {
    if [ "$(id -u)" -ne 0 ]; then
        say "no Slurm answers here, and starting one needs root"; exit 2
    fi
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        say "installing slurm-wlm and munge"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq slurm-wlm munge; } >"$work/apt.log" 2>&1; then
            say "could not install slurm-wlm and munge:"; tail -n 5 "$work/apt.log" >&2; exit 2
        fi
    fi
    if ! (munge -n | unmunge) >/dev/null 2>&1; then
        [ -s /etc/munge/munge.key ] || { say "no /etc/munge/munge.key"; exit 2; }
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge
        runuser -u munge -- /usr/sbin/munged --foreground >"$work/munged.log" 2>&1 &
        started+=($!)
        wait_for 10 sh -c 'munge -n | unmunge' || { say "munged did not start"; exit 2; }
    fi
    local host cpus
    host=$(hostname)
    cpus=$(nproc)
    for name in node1 node2; do
        if ! getent hosts "$name" >/dev/null; then
            echo "127.0.0.1 $name $hosts_marker" >>/etc/hosts
        fi
    done
    mkdir -p "$work/state" "$work/spool"
    cat >"$work/slurm.conf" <<EOF
ClusterName=pulsecheck
SlurmctldHost=$host
SlurmctldPort=17817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd-%n.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd-%n.log
NodeName=node1 NodeHostname=$host Port=17818 CPUs=$cpus State=UNKNOWN
NodeName=node2 NodeHostname=$host Port=17819 CPUs=$cpus State=UNKNOWN
PartitionName=check Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$work/slurm.conf
    slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
    started+=($!)
    for name in node1 node2; do
        slurmd -D -N "$name" -f "$SLURM_CONF" >"$work/slurmd-$name.out" 2>&1 &
        started+=($!)
    done
    if ! wait_for 60 sh -c '[ "$(sinfo -h -N -o %t | grep -c idle)" -ge 2 ]'; then
        say "the two nodes did not come up; logs:"
        tail -n 5 "$work"/*.log "$work"/*.out >&2 || true
        exit 2
    fi
    say "started a two-node Slurm on $host (nodes node1, node2; config $SLURM_CONF)"
}

if slurm_answers; then
    say "using the Slurm that answers here: $(sinfo -h -o '%P %D %t' | head -n 3 | tr '\n' ';')"
else
    start_local_slurm
fi

cd "$repo"
declare -A scores
for layout in "-N2 -n2 --ntasks-per-node 1" "-N1 -n2"; do
    out=$work/run-${layout// /_}
    say "srun $layout ${SRUN_OPTIONS:-}python pulse.py --dist --prefix node --demo --epochs 1" \
        "${PULSE_OPTIONS:-}"
    # shellcheck disable=SC2086  # the layout and the *_OPTIONS are word lists
    srun $layout ${SRUN_OPTIONS:-} "$python" pulse.py --dist --prefix node --demo --epochs 1 \
        --quiet --out_dir "$out" ${PULSE_OPTIONS:-} >"$out.stdout" 2>"$out.stderr" || {
        say "srun $layout failed:"; tail -n 20 "$out.stderr" >&2; exit 1; }
    processes=$(grep -o '[0-9]* process(es)' "$out.stderr" | head -n 1)
    result=$(grep -E '^(validation|test) SI-SNRi' "$out.stdout" | tr '\n' ' ')
    say "  $processes: $result"
    scores[$layout]=$result
    [ "$processes" = "2 process(es)" ] || { say "expected 2 processes"; exit 1; }
done
if [ "${scores["-N2 -n2 --ntasks-per-node 1"]}" != "${scores["-N1 -n2"]}" ]; then
    say "FAILED: 2 nodes x 1 task and 1 node x 2 tasks disagree"; exit 1
fi
say "passed: both layouts give the same scores ($(($(date +%s) - started_at)) s in all)"
