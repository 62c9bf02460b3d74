#!/usr/bin/env bash
# End-to-end benchmark of `sessionstats analyze` against its I/O, parse and write floors (issues 4
# and 9) and a DuckDB peer (issue 9).
#
#   bash benches/e2e.sh [SESSIONS]        # default 100000 sessions (about half a gigabyte)
#
# Environment: SEED (default 1), RUNS (rounds: runs of each step, default 3), E2E_DIR (work folder,
# default target/e2e), THREADS (the multi-thread count, default: nproc), PROFILE (release; `debug`
# for a quick check of the script itself), SHAPE (the corpus shape of `gen --shape`, default
# mixed), ONE_FILE=1 (all of an NDJSON corpus in one big .ndjson file; ONE_FILE=array: in one big
# .json array, read with --max-document-size 4G so that a baseline that reads it whole can),
# DUCKDB=0 (no DuckDB peer), KEEP_REPORTS=1 (keep the report folders the runs wrote, E2E_DIR/out-*:
# about 7 GB at 100,000 sessions, removed at the end otherwise),
# BASELINE=BINARY (another sessionstats binary, such as one built from an earlier commit, timed
# beside this one on every report in CSV, and without pairs in Parquet: the ratios say what the
# commits since cost or saved).
#
# The DuckDB peer (benches/duckdb_peer.py, DuckDB's Python package, installed with pip when it is
# missing) runs one SQL script over `read_json` that computes per-participant union length and
# segments and per-session peak concurrency; it reads NDJSON corpora only (SHAPE=ndjson). Its
# figures are checked row by row against `analyze`'s reports, outside the timing.
#
# It builds the release binary and the `floor` example, generates the corpus with
# `sessionstats gen` (cached in E2E_DIR by seed and size), reads it once to warm the page cache,
# then times each step RUNS times and prints the medians: seconds, MB/s of decompressed JSON,
# sessions/s, the ratio to the parse floor at the same thread count, and the peak resident memory
# (`/usr/bin/time -v`), with the 1 → N thread speed-ups. The steps run in RUNS rounds, each
# round running every step once, so that a slow spell of the machine falls on all steps alike;
# the ratios between them are what to read. All runs read a warm page cache (the corpus is read
# again before each), and each writes into a fresh report folder (removed before it, outside the
# timing). The write floor writes files as
# large as the "no pairs" run's reports, each synced and renamed as a report is: what the disk
# takes for those bytes, before any of them is computed.
set -euo pipefail

SESSIONS=${1:-100000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
THREADS=${THREADS:-$(nproc)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${E2E_DIR:-$ROOT/target/e2e}
SHAPE=${SHAPE:-mixed}
ONE_FILE=${ONE_FILE:-0}
DUCKDB=${DUCKDB:-1}
BASELINE=${BASELINE:-}
CORPUS=$WORK/corpus-seed$SEED-n$SESSIONS-$SHAPE
[[ $ONE_FILE == 1 ]] && CORPUS=$CORPUS-onefile
[[ $ONE_FILE == array ]] && CORPUS=$CORPUS-onearray && DUCKDB=0
# What a baseline that reads a .json file whole needs for one big array.
LIMIT=()
[[ $ONE_FILE == array ]] && LIMIT=(--max-document-size 4G)
AS_OF=2024-04-01T00:00:00Z   # fixed, so ongoing sessions close at the same instant every run
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/$PROFILE/sessionstats
FLOOR=$TARGET/$PROFILE/examples/floor
# Every report but overlaps: "without pairs".
NO_PAIRS=sessions,participants,concurrency,rooms,people,account_concurrency,usage
# The reports that hold the DuckDB peer's figures (and more): the same work, side by side.
PEER_REPORTS=sessions,participants

if [[ $DUCKDB == 1 ]] && ! python3 -c 'import duckdb' 2>/dev/null; then
    echo "installing DuckDB's Python package for the peer (pip install duckdb)" >&2
    python3 -m pip install --quiet duckdb >&2
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time for peak-memory figures (apt-get install -y time)" >&2
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi

echo "== build ($PROFILE)"
profile_flag=--release
[[ $PROFILE == debug ]] && profile_flag=
(cd "$ROOT" && cargo build $profile_flag --quiet --bin sessionstats --example floor)

mkdir -p "$WORK"
if [[ ! -d $CORPUS ]]; then
    echo "== generate $SESSIONS sessions (seed $SEED) into $CORPUS"
    rm -rf "$CORPUS.partial"
    "$BIN" gen --sessions "$SESSIONS" --seed "$SEED" --shape "$SHAPE" --out "$CORPUS.partial"
    if [[ $ONE_FILE == 1 ]]; then
        find "$CORPUS.partial" -type f -name '*.ndjson' | sort | xargs cat >"$CORPUS.partial.ndjson"
        rm -rf "$CORPUS.partial" && mkdir "$CORPUS.partial"
        mv "$CORPUS.partial.ndjson" "$CORPUS.partial/export.ndjson"
    elif [[ $ONE_FILE == array ]]; then
        # The lines as the items of one array, one a line; the generator's junk lines (which
        # would make the whole array invalid JSON, so rejected whole) are left out.
        find "$CORPUS.partial" -type f -name '*.ndjson' | sort | python3 -c '
import json, sys
out = open(sys.argv[1], "wb")
out.write(b"[")
first = True
for path in sys.stdin.read().split():
    for line in open(path, "rb"):
        try:
            json.loads(line.decode("utf-8"))
        except ValueError:
            continue
        out.write(b"\n" if first else b",\n")
        out.write(line.rstrip(b"\n"))
        first = False
out.write(b"\n]\n")
' "$CORPUS.partial.json"
        rm -rf "$CORPUS.partial" && mkdir "$CORPUS.partial"
        mv "$CORPUS.partial.json" "$CORPUS.partial/export.json"
    fi
    mv "$CORPUS.partial" "$CORPUS"
else
    echo "== corpus (cached): $CORPUS"
fi

# Warm the page cache and learn the decompressed size.
BYTES=$("$FLOOR" read "$CORPUS" | sed -E 's/.* files, ([0-9]+) bytes.*/\1/')
echo "   $(find "$CORPUS" -type f | wc -l) files, $(du -sh --apparent-size "$CORPUS" | cut -f1) on disk, $BYTES bytes of JSON"

echo "== machine"
echo "   $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
echo "   $(uname -sr), $(df -T "$WORK" | awk 'NR==2 {print $2}') file system, $(rustc --version)"
# The peer's speed moves with its version (its figures do not): say which one ran.
[[ $DUCKDB == 1 ]] && echo "   DuckDB $(python3 -c 'import duckdb; print(duckdb.__version__)') (Python package) for the peer"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run_timed FILE COMMAND…: runs the command under `/usr/bin/time -v` (report in FILE) and prints
# its wall-clock seconds. analyze exits 2 when some input was rejected, with the reports written
# all the same, so 2 counts as success.
run_timed() {
    local report=$1 t0 t1 code=0 previous=""
    shift
    # Every run writes into a fresh report folder: replacing the reports of the run before
    # costs a build that unlinks them on its workers more than one that does not.
    for arg in "$@"; do
        [[ $previous == --out ]] && rm -rf "$arg"
        previous=$arg
    done
    warm_corpus || return 1
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$report" "$@" >/dev/null 2>"$report.err" || code=$?
    t1=$(date +%s.%N)
    if [[ $code -ne 0 && $code -ne 2 ]]; then
        echo "   failed (exit $code): $* : $(tail -3 "$report.err")" >&2
        return 1
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

# Reads the corpus again before each timed run: this machine trims its page cache in the
# background (DAMON reclaims cold pages), and a run that finds part of the corpus gone waits for
# the disk.
warm_corpus() {
    "$FLOOR" read "$CORPUS" >/dev/null
}

# Every step is declared first (step NAME THREADS COMMAND…), then the steps run in RUNS rounds,
# each round running every step once in the order declared. This machine is shared: a slow
# spell of some minutes falls on one round of every step instead of on every run of a few
# steps, so the ratios between steps (to the parse floor, from 1 to N threads, to the baseline)
# come from runs made minutes apart at most.
STEP_NAMES=()
STEP_THREADS=()
STEP_COMMANDS=()
step() {
    STEP_NAMES+=("$1")
    STEP_THREADS+=("$2")
    shift 2
    STEP_COMMANDS+=("$(printf '%q ' "$@")")
}

for threads in 1 "$THREADS"; do
    [[ $threads == 1 && $THREADS == 1 ]] && continue
    step "read floor" "$threads" "$FLOOR" read --threads "$threads" "$CORPUS"
    step "parse floor" "$threads" "$FLOOR" parse --threads "$threads" "$CORPUS"
    analyze=("$BIN" analyze "$CORPUS" --as-of "$AS_OF" --threads "$threads" --quiet "${LIMIT[@]}")
    step "analyze csv" "$threads" "${analyze[@]}" --out "$WORK/out-csv" --format csv
    baseline=("$BASELINE" analyze "$CORPUS" --as-of "$AS_OF" --threads "$threads" --quiet "${LIMIT[@]}")
    if [[ -n $BASELINE ]]; then
        step "baseline csv" "$threads" "${baseline[@]}" --out "$WORK/out-baseline" --format csv
    fi
    step "analyze csv, no pairs" "$threads" "${analyze[@]}" --out "$WORK/out-csv-no-pairs" \
        --format csv --reports "$NO_PAIRS"
    # Right after the run whose reports it copies the sizes of (in the same round).
    step "write floor, no pairs" "$threads" "$FLOOR" write --threads "$threads" \
        "$WORK/out-csv-no-pairs" --out "$WORK/out-write-floor"
    step "analyze 3 reports" "$threads" "${analyze[@]}" --out "$WORK/out-csv-3" \
        --format csv --reports sessions,participants,usage
    step "analyze, DuckDB's work" "$threads" "${analyze[@]}" --out "$WORK/out-csv-peer" \
        --format csv --reports "$PEER_REPORTS"
    if [[ $threads == "$THREADS" ]]; then
        step "analyze parquet" "$threads" "${analyze[@]}" --out "$WORK/out-parquet" --format parquet
        step "parquet, no pairs" "$threads" "${analyze[@]}" --out "$WORK/out-parquet-no-pairs" \
            --format parquet --reports "$NO_PAIRS"
        if [[ -n $BASELINE ]]; then
            step "baseline parquet, no pairs" "$threads" "${baseline[@]}" \
                --out "$WORK/out-baseline-parquet" --format parquet --reports "$NO_PAIRS"
        fi
    fi
    if [[ $DUCKDB == 1 ]]; then
        step "duckdb peer" "$threads" python3 "$ROOT/benches/duckdb_peer.py" "$CORPUS" "$AS_OF" "$threads"
    fi
done

# Each step's seconds (one line per run), its largest peak resident memory in KB, and whether
# it failed: a step that fails once is left out of the later rounds and of the results.
declare -A TIMES RSS FAILED
report=$(mktemp)
for ((round = 1; round <= RUNS; round++)); do
    echo "== round $round of $RUNS"
    for i in "${!STEP_NAMES[@]}"; do
        key="${STEP_NAMES[$i]}|${STEP_THREADS[$i]}"
        [[ -n ${FAILED[$key]:-} ]] && continue
        if ! secs=$(eval "run_timed \"\$report\" ${STEP_COMMANDS[$i]}"); then
            FAILED[$key]=1
            continue
        fi
        TIMES[$key]+="$secs"$'\n'
        kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$report")
        ((kb > ${RSS[$key]:-0})) && RSS[$key]=$kb
        printf '   %-28s %2d thread(s): %s s\n' "${STEP_NAMES[$i]}" "${STEP_THREADS[$i]}" "$secs"
    done
done
rm -f "$report" "$report.err"

ROWS=()
declare -A PARSE_FLOOR
analyze_ok=true
for i in "${!STEP_NAMES[@]}"; do
    key="${STEP_NAMES[$i]}|${STEP_THREADS[$i]}"
    if [[ -n ${FAILED[$key]:-} ]]; then
        [[ ${STEP_NAMES[$i]} == "analyze csv" ]] && analyze_ok=false
        continue
    fi
    secs=$(printf '%s' "${TIMES[$key]}" | median)
    [[ ${STEP_NAMES[$i]} == "parse floor" ]] && PARSE_FLOOR[${STEP_THREADS[$i]}]=$secs
    ROWS+=("$key|$secs|${RSS[$key]}")
done

if [[ -d $WORK/out-parquet ]]; then
    du -sh --apparent-size "$WORK"/out-csv/* "$WORK"/out-parquet/* "$WORK"/out-parquet-no-pairs/* \
        "$WORK"/out-baseline-parquet/* 2>/dev/null | sed 's/^/   report /' || true
fi
# The peer's figures against the reports of the last "no pairs" run (the same whatever the
# threads), outside the timing.
if [[ $DUCKDB == 1 && -d $WORK/out-csv-no-pairs ]]; then
    python3 "$ROOT/benches/duckdb_peer.py" "$CORPUS" "$AS_OF" "$THREADS" --check "$WORK/out-csv-no-pairs" \
        | sed 's/^/   /' || echo "   the DuckDB peer's figures differ from analyze's" >&2
fi

echo
echo "== results: medians of $RUNS runs; $SESSIONS sessions, $BYTES bytes of JSON"
printf '%-28s %7s %9s %9s %11s %14s %13s\n' step threads seconds MB/s sessions/s "x parse floor" "peak RSS MB"
declare -A BY_NAME
for row in "${ROWS[@]}"; do
    IFS='|' read -r name threads secs kb <<<"$row"
    BY_NAME["$name|$threads"]=$secs
    # The write floor reads no JSON: no MB/s or sessions/s of it.
    awk -v n="$name" -v t="$threads" -v s="$secs" -v kb="$kb" -v b="$BYTES" -v ses="$SESSIONS" \
        -v pf="${PARSE_FLOOR[$threads]}" 'BEGIN {
            if (n ~ /^write floor/)
                printf "%-28s %7d %9.3f %9s %11s %14.2f %8.0f\n", n, t, s, "-", "-", s / pf, kb / 1024
            else
                printf "%-28s %7d %9.3f %9.1f %11.0f %14.2f %8.0f (%2.0f%%)\n",
                    n, t, s, b / 1e6 / s, ses / s, s / pf, kb / 1024, 100 * kb * 1024 / b }'
done
if [[ $THREADS != 1 ]]; then
    echo
    echo "== speed-up from 1 to $THREADS threads (time with 1 / time with $THREADS)"
    for name in "read floor" "parse floor" "analyze csv" "analyze csv, no pairs" "analyze 3 reports" \
        "analyze, DuckDB's work" "duckdb peer"; do
        one=${BY_NAME["$name|1"]:-}
        many=${BY_NAME["$name|$THREADS"]:-}
        [[ -n $one && -n $many ]] && awk -v n="$name" -v a="$one" -v b="$many" 'BEGIN { printf "%-24s %5.2fx\n", n, a / b }'
    done
fi
echo
echo "== ratios (time of analyze csv, no pairs / time of the other)"
for threads in 1 "$THREADS"; do
    ours=${BY_NAME["analyze csv, no pairs|$threads"]:-}
    [[ -z $ours ]] && continue
    peer=${BY_NAME["duckdb peer|$threads"]:-}
    [[ -n $peer ]] && awk -v t="$threads" -v a="$ours" -v b="$peer" 'BEGIN { printf "%d thread(s): %.2fx faster than the DuckDB peer\n", t, b / a }'
    same=${BY_NAME["analyze, DuckDB's work|$threads"]:-}
    [[ -n $peer && -n $same ]] && awk -v t="$threads" -v a="$same" -v b="$peer" \
        'BEGIN { printf "%d thread(s): %.2fx faster than the DuckDB peer with only its figures (--reports '"$PEER_REPORTS"')\n", t, b / a }'
    awk -v t="$threads" -v a="$ours" -v b="${PARSE_FLOOR[$threads]}" 'BEGIN { printf "%d thread(s): %.2fx the parse floor\n", t, a / b }'
    write=${BY_NAME["write floor, no pairs|$threads"]:-}
    [[ -n $write ]] && awk -v t="$threads" -v a="$ours" -v p="${PARSE_FLOOR[$threads]}" -v w="$write" \
        'BEGIN { printf "%d thread(s): the parse floor and the write floor of the same reports, one after the other: %.3f s (%.2fx the parse floor); no pairs takes %.2fx that\n", t, p + w, (p + w) / p, a / (p + w) }'
done
for threads in 1 "$THREADS"; do
    base=${BY_NAME["baseline csv|$threads"]:-}
    ours=${BY_NAME["analyze csv|$threads"]:-}
    [[ -n $base && -n $ours ]] && awk -v t="$threads" -v a="$ours" -v b="$base" \
        'BEGIN { printf "%d thread(s): analyze csv takes %.2fx the baseline binary'"'"'s time\n", t, a / b }'
done
pq=${BY_NAME["parquet, no pairs|$THREADS"]:-}
csv=${BY_NAME["analyze csv, no pairs|$THREADS"]:-}
[[ -n $pq && -n $csv ]] && awk -v a="$pq" -v b="$csv" 'BEGIN { printf "parquet / csv (no pairs): %.2fx\n", a / b }'
base=${BY_NAME["baseline parquet, no pairs|$THREADS"]:-}
[[ -n $pq && -n $base ]] && awk -v t="$THREADS" -v a="$pq" -v b="$base" \
    'BEGIN { printf "%d thread(s): parquet, no pairs takes %.2fx the baseline binary'"'"'s time\n", t, a / b }'
$analyze_ok || echo "note: analyze failed, so only the floors were measured"
# The report folders are larger than the corpus several times over.
[[ ${KEEP_REPORTS:-0} == 1 ]] || rm -rf "$WORK"/out-*
