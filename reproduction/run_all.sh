#!/usr/bin/env bash
# The FER2013 runs of docs/REPRODUCTION.md, one after another (by default the paper's three:
# deep, shallow, hybrid), each started or resumed where it stopped, so that the machine never
# idles between them:
#
#   source venv/bin/activate
#   nohup bash reproduction/run_all.sh /path/to/fer2013 ~/fercnn-runs >> ~/fercnn-runs/run_all.log 2>&1 &
#
# A run whose folder has results.json has finished and is skipped; one with checkpoints is
# continued with --resume; otherwise it starts. A run whose process is still alive (from its
# .pid file) is waited for, not started twice; give two chains different runs (NETS).
# Arguments after the runs folder go to every training command (e.g. --quiet). Beside each
# run folder: <run>.log (its output), <run>.pid, <run>.commit (the code of each start or
# resume, "-dirty" when the work tree had changes) and <run>.notes.
#
# NETS (default "deep shallow hybrid") picks the runs and their order, among those and the
# runs of "Past the paper": deep_hybrid (the paper's Figure 6: the deep network with HOG
# features, the deep recipe), vgg (the accuracy network and its recipe) and vgg_noaug (the
# ablation: the same without shifts, rotations, scaling and erasing; mirror images stay, as
# in the paper's recipe). THREADS sets each
# run's thread count (Numba's and BLAS's; default: all cores). On the 2-core machine here
# two 1-thread runs side by side do not slow each other, and together they train about
# 1.2x as much as one run on 2 threads (deep step: 1.24 s on 1 thread, 0.73 s on 2):
#
#   THREADS=1 NETS="deep hybrid" nohup bash reproduction/run_all.sh ... >> ~/fercnn-runs/chain1.log 2>&1 &
#   THREADS=1 NETS="shallow"     nohup bash reproduction/run_all.sh ... >> ~/fercnn-runs/chain2.log 2>&1 &
set -u
if [ $# -lt 1 ]; then
    echo "usage: bash reproduction/run_all.sh FER2013_PATH [RUNS_FOLDER (default ~/fercnn-runs) [TRAIN_ARGS...]]" >&2
    exit 2
fi
data=$1
runs=${2:-$HOME/fercnn-runs}
shift $(( $# < 2 ? $# : 2 ))
repo=$(cd "$(dirname "$0")/.." && pwd)
# the code each start or resume ran; a copy outside git (git archive, a snapshot folder) says so
code=$(git -C "$repo" describe --always --dirty 2>/dev/null) || code="unknown (not a git checkout: $repo)"
mkdir -p "$runs"
if [ -n "${THREADS:-}" ]; then
    export NUMBA_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
fi

alive() {  # is the pid in file $1 the training process of the run folder $2?
    # -ww: without it ps cuts the command line at the terminal's width (80 columns without
    # one), and a long runs folder's --out would not be seen
    [ -f "$1" ] && ps -ww -p "$(cat "$1")" -o args= 2>/dev/null | grep -qF -- "--out $2 "
}

# the accuracy network's recipe (mirror images included), and the rest of its augmentation,
# which vgg_noaug leaves out. Without it the network overfits within a few epochs, so
# vgg_noaug also ends once validation accuracy has not improved for 10 epochs (by then the
# plateau schedule has cut the learning rate twice): the machine's hours go further, and
# the best epoch, which is what it reports, is the one 60 epochs would most likely find.
VGG_RECIPE="--no-flip-double --augment-flip --lr-schedule plateau --plateau-patience 3 --nesterov --epochs 60"
VGG_AUGMENT="--augment-shift 4 --augment-rotate 10 --augment-scale 0.2 --augment-erase 0.5"

recipe() {  # the training script of run $1 and its options; fails for an unknown run
    case $1 in
        deep|shallow|hybrid) echo "train_$1.py" ;;
        deep_hybrid) echo "train_hybrid.py --preset deep --lr 0.01 --reg 1e-7" ;;
        vgg) echo "train_vgg.py $VGG_RECIPE $VGG_AUGMENT" ;;
        vgg_noaug) echo "train_vgg.py $VGG_RECIPE --early-stop 10" ;;
        *) return 1 ;;
    esac
}

nets=${NETS:-deep shallow hybrid}
for net in $nets; do  # all checked before anything starts
    if ! recipe "$net" > /dev/null; then
        echo "run_all.sh: NETS: unknown run '$net' (deep, shallow, hybrid, deep_hybrid, vgg, vgg_noaug)" >&2
        exit 2
    fi
done

for net in $nets; do
    name=${net}_fer2013
    out=$runs/$name
    while alive "$runs/$name.pid" "$out"; do sleep "${RUN_ALL_POLL:-60}"; done
    if [ -f "$out/results.json" ]; then
        echo "$(date -u +%FT%TZ) $name: finished, skipped"
        continue
    fi
    how=start
    for f in "$out"/checkpoints/*.npz; do
        if [ -e "$f" ]; then how=resume; fi
        break
    done
    echo "$(date -u +%FT%TZ) $name: $how (code $code, ${THREADS:-all} threads)" | tee -a "$runs/$name.notes"
    echo "$code" >> "$runs/$name.commit"
    read -r script options <<< "$(recipe "$net")"
    # shellcheck disable=SC2086  # the recipe's options are words
    python "$repo/examples/$script" --data "$data" --out "$out" --checkpoint-every 100 $options \
        $([ $how = resume ] && echo --resume) "$@" >> "$runs/$name.log" 2>&1 &
    echo $! > "$runs/$name.pid"
    if ! wait $!; then
        echo "$(date -u +%FT%TZ) $name: failed; see $runs/$name.log" | tee -a "$runs/$name.notes"
        exit 1
    fi
    echo "$(date -u +%FT%TZ) $name: finished" | tee -a "$runs/$name.notes"
done
