#!/usr/bin/env bash
# Issue 19's churn scenario, as docs/PERFORMANCE.md reports it: a standalone driver and pipeline on
# schema/examples/churn.json (maxNodes 1,000,000, a 16 MiB arena), `produce --ops create:50,delete:50`:
# 1M records, then 9M more. With --durable: a data directory, and the pipeline SIGKILLed after 5M and
# restarted (snapshot + replay) before the other 5M. Prints each producer's summary, what the store holds, and
# the pipeline's resident memory after 1M and at the end, with and without the Aeron log buffers (read 6 s
# after each producer, once the driver has unmapped its buffers).
# Usage: perf/churn-scenario.sh [--durable]
set -euo pipefail
SPATE_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPATE="$SPATE_HOME/bin/spate"
SCHEMA="$SPATE_HOME/schema/examples/churn.json"
DURABLE=0; [ "${1:-}" = "--durable" ] && DURABLE=1
WORK="$(mktemp -d /tmp/spate-churn-scenario-XXXXXX)"
DIR="/dev/shm/spate-churn-scenario-$$"
DATA_OPTION=()
[ "$DURABLE" = 1 ] && DATA_OPTION=(--data "$WORK/data")
PIPELINE_PID=""
cleanup() {
    [ -n "$PIPELINE_PID" ] && kill "$PIPELINE_PID" 2>/dev/null || true
    sleep 2
    pkill -f -- "--dir $DIR" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$SPATE" driver --dir "$DIR" "${DATA_OPTION[@]}" > "$WORK/driver.log" 2>&1 &
for _ in $(seq 1 120); do grep -q "running in" "$WORK/driver.log" && break; sleep 0.5; done

start_pipeline() {
    : > "$WORK/pipeline.log"
    "$SPATE" pipeline --schema "$SCHEMA" --dir "$DIR" "${DATA_OPTION[@]}" >> "$WORK/pipeline.log" 2>&1 &
    for _ in $(seq 1 240); do grep -q "pipeline: ready" "$WORK/pipeline.log" && break; sleep 0.5; done
    PIPELINE_PID=$(pgrep -f -- "PipelineMain --schema $SCHEMA --dir $DIR" | head -1)
}

# The pipeline's resident kB: without the Aeron log buffers, then with them.
resident() {
    sleep 6
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Rss:/ { all += $2; if (name !~ /logbuffer$/) own += $2 }
         END { print own, all }' "/proc/$PIPELINE_PID/smaps"
}

produce() {
    "$SPATE" produce --schema "$SCHEMA" --dir "$DIR" --records "$1" --ops create:50,delete:50 --seed "$2" 2>&1 |
        grep "^produce: records="
}

store() { timeout 3 "$SPATE" stat --dir "$DIR" 2>&1 | grep -m 1 "  store " || true; }

start_pipeline
produce 1000000 1
read -r OWN_1M ALL_1M <<< "$(resident)"
echo "churn: after 1M records the pipeline holds $OWN_1M kB ($ALL_1M kB with the log buffers)"
if [ "$DURABLE" = 1 ]; then
    produce 4000000 2
    store
    kill -9 "$PIPELINE_PID"
    echo "churn: SIGKILLed the pipeline ($PIPELINE_PID)"
    sleep 1
    start_pipeline
    grep "durable in" "$WORK/pipeline.log" | sed 's/; acks wait.*//'
    store
    produce 1000000 3
    read -r OWN_RESTART ALL_RESTART <<< "$(resident)"
    echo "churn: 1M records after the restart the pipeline holds $OWN_RESTART kB ($ALL_RESTART kB with the log buffers)"
    produce 4000000 4
else
    produce 9000000 2
fi
read -r OWN_END ALL_END <<< "$(resident)"
store
ratio() { awk "BEGIN { printf \"%.3f\", $1 / $2 }"; }
echo "churn: after 10M records the pipeline holds $OWN_END kB ($ALL_END kB with the log buffers):" \
    "x$(ratio "$OWN_END" "$OWN_1M") of after 1M (x$(ratio "$ALL_END" "$ALL_1M") with the log buffers)"
if [ "$DURABLE" = 1 ]; then
    # Two processes' JVMs settle at different sizes (heap pages touched, code compiled): the same process compared.
    echo "churn: the restarted process at the end: x$(ratio "$OWN_END" "$OWN_RESTART") of its size 1M records after" \
        "its start (x$(ratio "$ALL_END" "$ALL_RESTART") with the log buffers)"
fi
