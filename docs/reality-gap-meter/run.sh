#!/usr/bin/env bash
# The reality-gap meter measured in the target simulator: every command behind results.json, in order.
# Run from an empty folder with the checkout's venv; REPO points at the checkout. About 45 min wall on the
# shared 2-core machine (about 20 min of CPU); each step is an ordinary `redraw` command.
set -ex
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
R="nice -n 15 env OMP_NUM_THREADS=1 $REPO/.venv/bin/redraw"
M=$REPO/models/source_small.pt
O="--workers 1 --cache-dir cache"
B="operator;operator;smooth"   # the demo's target driving: lane following with swerves, then exploration
# target bags (train: adaptation data; eval: the episodes both models are replayed on) and a source bag
$R collect --gap "steering_reversed,trim=0.1" --behaviour "$B" --transitions 4000 --out bags/rev_train --seed 1 --workers 1
$R collect --gap "steering_reversed,trim=0.1" --behaviour "$B" --transitions 1000 --out bags/rev_eval --seed 2 --workers 1
$R collect --gap "gain=0.6,latency_steps=2" --behaviour "$B" --transitions 4000 --out bags/gain_train --seed 1 --workers 1
$R collect --gap "gain=0.6,latency_steps=2" --behaviour "$B" --transitions 1000 --out bags/gain_eval --seed 2 --workers 1
$R collect --gap none --behaviour "$B" --transitions 1000 --out bags/source_eval --seed 2 --workers 1
# zero-shot and ReDRAW policies (30 actor-critic updates: the meter reads the encoder and the prior, not the actor)
$R adapt --model $M --bag bags/rev_train --method residual --out runs/rev_residual.pt --steps 500 $O
$R train-policy --model $M --bag bags/rev_train --out runs/zero_shot.pt --updates 30 $O
$R train-policy --model $M --residual runs/rev_residual.pt --bag bags/rev_train --out runs/redraw_rev.pt --updates 30 $O
$R export --policy runs/zero_shot.pt --out models/zero_shot.onnx        # measures the threshold (400 steps per domain)
T=$($REPO/.venv/bin/python -c "import onnx,json; m=onnx.load('models/zero_shot.onnx'); print(json.loads({p.key:p.value for p in m.metadata_props}['redraw.reality_gap'])['threshold'])")
$R export --policy runs/redraw_rev.pt --out models/redraw_rev.onnx --gap-threshold $T   # same base model: same threshold
$R adapt --model $M --bag bags/gain_train --method residual --out runs/gain_residual.pt --steps 500 $O
$R train-policy --model $M --residual runs/gain_residual.pt --bag bags/gain_train --out runs/redraw_gain.pt --updates 30 $O
$R export --policy runs/redraw_gain.pt --out models/redraw_gain.onnx --gap-threshold $T
# the meter over the same episodes: each model on each eval bag
for pair in zero_shot:rev_eval zero_shot:gain_eval zero_shot:source_eval redraw_rev:rev_eval redraw_gain:gain_eval \
            redraw_rev:source_eval redraw_rev:gain_eval redraw_gain:rev_eval redraw_gain:source_eval; do
  $R replay --bag bags/${pair#*:} --policy models/${pair%%:*}.onnx --out replays/${pair%%:*}_${pair#*:} --video-frames 50
done
$R bag info bags/rev_eval --meter models/zero_shot.onnx $O > bag_info_zero_shot_rev_eval.txt
$R bag info bags/rev_eval --meter models/redraw_rev.onnx $O > bag_info_redraw_rev_rev_eval.txt
# spread: two more seeds of the zero-shot reading in the source and under reversed steering
for s in 3 4; do
  $R collect --gap none --behaviour "$B" --transitions 600 --out bags/source_s$s --seed $s --workers 1
  $R collect --gap "steering_reversed,trim=0.1" --behaviour "$B" --transitions 600 --out bags/rev_s$s --seed $s --workers 1
done
$REPO/.venv/bin/python $REPO/docs/reality-gap-meter/spread.py . spread.json
# camera -> command latency, meter on vs off (the benchmark's small model with and without its prior)
chrt -f 10 $REPO/.venv/bin/python $REPO/benchmarks/policy_latency.py --meter compare | tee latency.txt
$REPO/.venv/bin/python $REPO/docs/reality-gap-meter/collate.py . $REPO/docs/reality-gap-meter/results.json
