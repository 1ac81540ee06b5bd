#!/usr/bin/env bash
# Issue 20's long runs on the 2-core CPU machine, one chain of commands per core, carried across sessions.
#
#   runs.sh start        start both chains in the background (logs in runs/logs/)
#   runs.sh stop [MIN]   give each study up to MIN minutes (default 0) to finish the trial it is in, then Ctrl-C
#                        every run (the trainer checkpoints at its next step), and stage for commit the checkpoint
#                        (last.pt) of every trial left unfinished with at least 20 minutes of training in it (its
#                        finished epochs and the part of the one it stopped in, as the checkpoint holds them)
#   runs.sh status       the runs' last progress lines, the staged checkpoints and the submission's size
#   runs.sh carry        stage the checkpoints as `stop` does, without stopping anything (the runs have ended), and
#                        the weights the finished Fashion-MNIST run was tested with
#   runs.sh size         how large this session's submission is so far (its diffs counted as text; see below)
#
# Only what git holds survives from one session to the next here, and a 4x trial takes most of a session, an 8x
# trial or a phi = 3 network of Step 2 more than one. So `stop` force-adds each unfinished trial's last.pt (the
# run folders are ignored otherwise) and drops from the index those of trials that have finished since: the next
# session's checkout continues every trial from the epoch it reached. Each chain runs from a worktree of HEAD
# (/work/runner), so editing the checkout during a session cannot reach a run in progress; outputs go into this
# checkout's docs/results/full-size/.
#
# A submission is refused whole when its commits' diffs, added up as text, pass 256 MiB, and a changed binary
# counts as its old and its new content (stop 31 lost a session's runs that way: it committed the 39 MB
# Fashion-MNIST checkpoint twice, beside three trial checkpoints). So `stop` stages checkpoints only within
# SUBMISSION_BUDGET_MIB (default 200) counted from the commit the session's first `start` found (runs/landed), the
# most-trained first (what the session's earlier commits hold is counted too), and says which it had to leave
# out: commit the runs' outputs once, at the session's end.
#
# Core 1: the scaling study (items 2 and 4), then item 5's second attempt, with a recipe that regularises more (the
# study and its 8x extrapolation need about 15 more hours, Step 2 about 25: this evens the cores out). Core 2: Step 1
# and its confirm phase, then the first Fashion-MNIST run (item 5), then Step 2 (item 3). Each command resumes, or
# returns at once when it has nothing left to do.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel)
runner=${EFFNET_RUNNER:-/work/runner}
logs=$top/runs/logs
fmnist=$here/fashion-mnist
patterns=("effnet experiment scaling" "effnet search coefficients" "fashion_mnist.py")
any_run=$(IFS='|'; echo "${patterns[*]}")  # any of them (pgrep's extended regex)
# item 5's second attempt (README.md section 7): the first run fitted its training set exactly by epoch 100
regularised="--set mixup_alpha=0.2 --set random_erasing=0.5 --set drop_path=0.2"

study_cmd() {
    "$py" -m effnet experiment scaling "$here/baseline.json" --data fashion-mnist --budgets 2x,4x \
        --methods depth,width,resolution,compound --seeds 3 --epochs 6 --fidelities 3 --val-points 6 \
        --repeat-rounding nearest --extrapolate 8x --workers 1 --threads 1 --output "$here/scaling-study"
}

search_cmd() {  # "$@": Step 2's options, added once the Fashion-MNIST run is done
    "$py" -m effnet search coefficients "$here/baseline.json" --data fashion-mnist --step 0.1 --tolerance 0.1 \
        --repeat-rounding nearest --prune none --confirm 3 --confirm-seeds 3 --seeds 1 --epochs 6 --val-points 6 \
        --family 3 "$@" --workers 1 --threads 1 --output "$here/coefficient-search"
}

fmnist_cmd() {  # "$1": the run's name, "$@" after it: recipe overrides; 100 epochs of compound phi = -2 at 64 px
    # (README.md section 7); fashion-mnist/result[-NAME].json at the end
    local name=$1 result resume=()
    shift
    result=$fmnist/result${name:+-$name}.json
    [ -f "$result" ] && return 0
    local run=$fmnist/trials/phi-2-64-100${name:+-$name}
    [ -f "$run/last.pt" ] && resume=(--resume)
    mkdir -p "$fmnist"
    "$py" "$runner/benchmarks/fashion_mnist.py" --phi -2 --resolution 64 --epochs 100 --threads 1 \
        --output "$run" "${resume[@]}" "$@" > "$result.part" || return $?
    mv "$result.part" "$result"
}

start() {
    make -s -C "$top" .venv/.demo-installed /usr/share/datasets/fashion-mnist
    cd "$top"  # the runs record paths relative to the checkout
    py=$top/.venv/bin/python
    if pgrep -f "$any_run" >/dev/null; then
        echo "runs.sh: runs are already going: $(pgrep -af "$any_run" | cut -c1-80)" >&2
        exit 2
    fi
    git -C "$top" worktree remove --force "$runner" 2>/dev/null || rm -rf "$runner"
    git -C "$top" worktree prune
    git -C "$top" worktree add --detach -q "$runner" HEAD
    mkdir -p "$logs"
    # what this session's submission adds to; a session lasts at most 3 hours, so an older record is an earlier
    # session's (stop 33 found stop 31's, which would have counted the landed stop 32 against this session)
    if [ ! -f "$top/runs/landed" ] || [ -n "$(find "$top/runs/landed" -mmin +200)" ]; then
        git -C "$top" rev-parse HEAD > "$top/runs/landed"
    fi
    export PYTHONPATH=$runner/src OMP_NUM_THREADS=1 py
    export -f study_cmd search_cmd fmnist_cmd
    export here runner fmnist
    setsid nohup bash -c "study_cmd && fmnist_cmd regularised $regularised" >>"$logs/core1.log" 2>&1 </dev/null &
    setsid nohup bash -c "search_cmd && fmnist_cmd '' && search_cmd --family-seeds 3" >>"$logs/core2.log" 2>&1 </dev/null &
    echo "started at $(date -u +%H:%M) UTC from $(git -C "$runner" rev-parse --short HEAD); logs in $logs"
    # two sessions less than 200 minutes apart share the record: write HEAD into runs/landed by hand then
    echo "the submission's size counts from $(cut -c1-7 "$top/runs/landed") (runs/landed, written" \
         "$(date -u -r "$top/runs/landed" +%H:%M) UTC)"
}

done_count() {  # the last "N done" a study printed to its log
    grep -o "$1: [0-9]* done" "$2" 2>/dev/null | tail -n 1 | grep -o "[0-9]* done" | cut -d' ' -f1 || true
}

stop() {
    local minutes=${1:-0} deadline before1 before2
    deadline=$((SECONDS + minutes * 60))
    before1=$(done_count scaling-study "$logs/core1.log")
    before2=$(done_count coefficient-search "$logs/core2.log")
    while [ "$SECONDS" -lt "$deadline" ]; do  # a study that finishes a trial is stopped before its next gets far
        if pgrep -f "${patterns[0]}" >/dev/null && [ "$(done_count scaling-study "$logs/core1.log")" != "$before1" ]; then
            pkill -INT -f "${patterns[0]}" || true
        fi
        if pgrep -f "${patterns[1]}" >/dev/null && [ "$(done_count coefficient-search "$logs/core2.log")" != "$before2" ]; then
            pkill -INT -f "${patterns[1]}" || true
        fi
        pgrep -f "$any_run" >/dev/null || break
        sleep 20
    done
    for pattern in "${patterns[@]}"; do pkill -INT -f "$pattern" || true; done
    for _ in $(seq 120); do
        pgrep -f "$any_run" >/dev/null || break
        sleep 5
    done
    if pgrep -f "$any_run" >/dev/null; then
        echo "runs.sh: a run is still going after 10 minutes; nothing staged" >&2
        exit 1
    fi
    carry
}

carry() {  # stage the last.pt of unfinished trials (within the submission's budget); unstage those of finished ones
    local folder name weights result
    for result in "$fmnist"/result*.json; do  # a finished Fashion-MNIST run: its tested weights (10 MB) are a result
        [ -f "$result" ] || continue
        weights=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["weights"])' "$result")
        [ "${weights#/}" != "$weights" ] || weights=$top/$weights  # recorded relative to the checkout
        if [ -f "$weights" ]; then  # and the run's per-epoch record (validation loss, learning rate), 30 KB
            git -C "$top" add -f "$(dirname "$weights")" "$(dirname "$(dirname "$weights")")/metrics.jsonl"
            echo "staged $(du -sh "$(dirname "$weights")" | cut -f1) $(dirname "$weights") and its metrics.jsonl"
        fi
    done
    while IFS= read -r name; do
        folder=$(dirname "$top/$name")
        if finished "$folder" || [ ! -f "$top/$name" ]; then
            git -C "$top" rm -q --cached "$name"
        fi
    done < <(git -C "$top" ls-files "$here" | grep '/trials/.*/last\.pt$' || true)
    while IFS= read -r name; do
        echo "staged $(du -h "$top/$name" | cut -f1) $name"
    done < <(unfinished | "$top/.venv/bin/python" -c "$budget_py" "$top" "$(landed)" "${SUBMISSION_BUDGET_MIB:-200}" \
                 "${CARRY_MINUTES:-20}")
}

unfinished() {  # the checkpoints of trials (and the Fashion-MNIST run) not finished, one path a line
    local name
    while IFS= read -r name; do
        finished "$(dirname "$name")" || echo "$name"
    done < <(find "$here" -path '*/trials/*/last.pt' -type f)
}

landed() {  # the commit this session's submission is counted from
    if [ -f "$top/runs/landed" ]; then
        [ -z "$(find "$top/runs/landed" -mmin +200)" ] ||
            echo "runs.sh: runs/landed is over 200 minutes old (an earlier session's?); counting from it" >&2
        cat "$top/runs/landed"
    else
        git -C "$top" rev-parse HEAD
    fi
}

# Python, for the byte counts: the submission's size so far (diffs of landed..HEAD and of the index, as text, a
# binary as its old plus its new size), then each checkpoint worth carrying, most-trained first, staged with
# `git add -f` while the total stays within the budget; prints the paths it staged, and on stderr those it left.
budget_py='
import json, subprocess, sys
from pathlib import Path

top, landed, budget, minutes = sys.argv[1], sys.argv[2], float(sys.argv[3]) * 2**20, float(sys.argv[4])

def git(*args):
    return subprocess.run(["git", "-C", top, *args], check=True, capture_output=True).stdout

def blob(rev, path):  # rev "": the index
    out = subprocess.run(["git", "-C", top, "cat-file", "-s", f"{rev}:{path}"], capture_output=True, text=True)
    return int(out.stdout) if out.returncode == 0 else 0

def diff_size(old, new, leave=()):  # new "": the index; leave: paths not counted
    where = ["--cached", old] if new == "" else [old, new]
    where += ["--", ".", *(f":(exclude){path}" for path in leave)] if leave else []
    text = len(git("diff", "--no-ext-diff", "--no-renames", *where))
    for line in git("diff", "--numstat", "--no-renames", *where).decode().splitlines():
        added, _, path = line.split("\t", 2)
        if added == "-":  # binary: its old and its new content
            text += blob(old, path) + blob(new, path)
    return text

commits = git("rev-list", "--reverse", f"{landed}..HEAD").decode().split()
used, parent = 0, landed
for commit in commits:
    used, parent = used + diff_size(parent, commit), commit
report = len(sys.argv) > 5 and sys.argv[5] == "report"
names = [] if report else [Path(name) for name in sys.stdin.read().splitlines() if name]
candidates = [str(path.relative_to(top)) for path in names]
used += diff_size("HEAD", "", leave=candidates)  # a checkpoint staged already is counted once, below
if report:
    print(f"{used / 2**20:.1f} MiB of diffs since {landed[:7]} ({len(commits)} commits and the index)")
    sys.exit(0)

def trained(checkpoint):  # seconds of training in it: its finished epochs and the part of the one it stopped in
    import torch  # the venv'"'"'s; only here, so that `size` runs without it

    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    rows = state.get("history") or []
    seconds = sum(row.get("train_seconds") or 0 for row in rows)
    if state.get("epoch_so_far"):
        return seconds + state["epoch_so_far"]["train_seconds"]
    done = rows[-1]["step"] if rows else 0  # older checkpoints: the finished epochs'"'"' pace per step
    return seconds + (state["global_step"] - done) * seconds / done if done else seconds

wanted = sorted(((trained(path), path) for path in names), reverse=True)
for seconds, path in wanted:
    relative = str(path.relative_to(top))
    held = blob("HEAD", relative)  # one HEAD holds as it is adds nothing to the submission
    unchanged = held and git("hash-object", relative) == git("rev-parse", f"HEAD:{relative}")
    cost = 0 if unchanged else path.stat().st_size + held
    if seconds < 60 * minutes or used + cost > budget:
        git("reset", "-q", "--", relative)  # one staged earlier goes back to what HEAD holds, costing nothing
        if seconds >= 60 * minutes:
            print(f"runs.sh: not carried (the submission would pass {budget / 2**20:.0f} MiB): {relative}, "
                  f"{seconds / 60:.0f} min of training", file=sys.stderr)
        continue
    git("add", "-f", relative)
    used += cost
    print(relative)
print(f"runs.sh: the submission so far: {used / 2**20:.1f} MiB of diffs", file=sys.stderr)
'

finished() {  # a run that has scored the test split (the last thing a trial and the Fashion-MNIST run do)
    [ -f "$1/metrics.jsonl" ] && tail -n 1 "$1/metrics.jsonl" | grep -q '"test_top1": [0-9]'
}

size() {
    python3 -c "$budget_py" "$top" "$(landed)" 0 0 report </dev/null
}

status() {
    for log in "$logs"/core*.log; do echo "== $log"; tail -n 3 "$log"; done
    git -C "$top" ls-files "$here" | grep '/trials/.*/last\.pt$' || echo "no checkpoint is staged"
    size
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-0}" ;;
    status) status ;;
    size) size ;;
    carry) carry ;;
    *) echo "usage: $0 start | stop [MINUTES] | status | size | carry" >&2; exit 2 ;;
esac
