set -x
R="nice -n 15 env OMP_NUM_THREADS=1 PYGLET_HEADLESS=true /work/main/.venv/bin/python -m redraw_trainer.cli"
$R collect --gap "steering_reversed,trim=0.1" --behaviour 'operator;operator;smooth' --transitions 4000 --out bags/rev_train --seed 1 --workers 1
$R collect --gap "steering_reversed,trim=0.1" --behaviour 'operator;operator;smooth' --transitions 1000 --out bags/rev_eval --seed 2 --workers 1
$R collect --gap "gain=0.6,latency_steps=2" --behaviour 'operator;operator;smooth' --transitions 4000 --out bags/gain_train --seed 1 --workers 1
$R collect --gap "gain=0.6,latency_steps=2" --behaviour 'operator;operator;smooth' --transitions 1000 --out bags/gain_eval --seed 2 --workers 1
$R collect --gap none --behaviour 'operator;operator;smooth' --transitions 1000 --out bags/source_eval --seed 2 --workers 1
