#!/bin/bash
# Train a 128 px teacher on an accelerator machine from packed aligned faces, and bring it back under $OUT.
#
#   here:   python tools/pack_aligned.py ../shared/assets/faces/lfw-deepfunneled --work RUN_DIR --out .device/faces128
#   device: run command "bash tools/device_pretrain.sh", carry [".device"], timeout_s 570
#   back:   $OUT/$NAME/{generator.safetensors,config.json,README.md}, the last two sample grids, train.log;
#           copy $OUT/$NAME to $GPDFACE_HOME/teachers/ and check it with benchmarks/teacher.py.
#   tiny CPU rehearsal: OUT=/tmp/o DEVICE=cpu TRAIN_SECONDS=20 PROBE_KIMG=0.64 WIDTH=8 FACES=SMALL_PACK bash tools/device_pretrain.sh
#
# The machine's own python3 holds torch, typer, rich, safetensors, numpy, opencv and Pillow; gpdface runs from
# the working tree. --aligned reads the packed crops, so no detector is needed. Training length is set by time:
# a probe run measures images per second, then the same run (resumed from the probe's checkpoint) goes on to
# the kimg that fits TRAIN_SECONDS (from the probe's own training time, the last progress line's seconds).
set -euo pipefail
: "${OUT:?OUT must name the folder that comes back}"
NAME=${NAME:-lfw128-gpu}
FACES=${FACES:-.device/faces128}
WIDTH=${WIDTH:-48}
DEVICE=${DEVICE:-cuda}
TRAIN_SECONDS=${TRAIN_SECONDS:-420}
PROBE_KIMG=${PROBE_KIMG:-16}
OPTIONS=${OPTIONS:-}  # more pretrain-teacher options, e.g. "--resize-top" or "--lr 1e-4"
LICENSE='Labeled Faces in the Wild (LFW, deep-funneled): research use only'
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
scratch=$(mktemp -d)
export GPDFACE_HOME=$scratch/home
mkdir -p "$OUT"
exec > >(tee "$OUT/train.log") 2>&1

pretrain() {  # the package's own command, run from the working tree
  python3 -c 'import sys; from gpdface.cli import app; sys.argv[0] = "gpdface"; app()' pretrain-teacher "$FACES" \
    --aligned --name "$NAME" --resolution 128 --width "$WIDTH" --holdout 50 --device "$DEVICE" \
    --work "$scratch/run" --out "$OUT/$NAME" --overwrite --license "$LICENSE" $OPTIONS "$@"
}

python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
pretrain --kimg "$PROBE_KIMG" 2>&1 | tee "$scratch/probe.log"
kimg=$(python3 - "$scratch/probe.log" "$PROBE_KIMG" "$TRAIN_SECONDS" <<'PY'
import re, sys
log, probe_kimg, budget = open(sys.argv[1]).read(), float(sys.argv[2]), float(sys.argv[3])
seconds = float(re.findall(r"\((\d+) s\)", log)[-1])  # training time of the probe, warm-up included
print(max(probe_kimg, round(0.9 * probe_kimg * budget / max(seconds, 1.0), 1)))  # 0.9: room for the export
PY
)
echo "probe: $PROBE_KIMG kimg; training on to $kimg kimg"
pretrain --kimg "$kimg"
ls "$scratch/run/gan"/samples_*.png 2>/dev/null | tail -2 | xargs -r -I{} cp {} "$OUT/"
nvidia-smi --query-gpu=name,memory.used --format=csv || true
