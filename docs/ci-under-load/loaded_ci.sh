#!/usr/bin/env bash
# 5 CI runs in a row on a fresh clone, with two CPU-bound processes beside them the whole time.
set -u
rm -rf /tmp/ci5 && mkdir -p /tmp/ci5 && git clone -q "$(git rev-parse --show-toplevel)" /tmp/ci5/main && cp -r "$(git rev-parse --show-toplevel)/../shared" /tmp/ci5/shared
cd /tmp/ci5/main
python3 -c "while True: pass" & L1=$!
python3 -c "while True: pass" & L2=$!
echo "load: pids $L1 $L2 ($(git log --oneline -1))"
for i in 1 2 3 4 5; do
  start=$(date +%s)
  CI=true bash .ci/run > /tmp/ci5/run$i.log 2>&1 < /dev/null
  rc=$?
  echo "run $i: rc=$rc $(( $(date +%s) - start )) s: $(tail -1 /tmp/ci5/run$i.log)"
done
kill $L1 $L2
