#!/usr/bin/env bash
# The cost of a small nightly fetch against the size of the store (issue 12).
#
#   bash benches/store_index.sh [SIZES…]     # default: 0 100000 1000000 sessions
#
# Environment: RUNS (timed runs per case, default 11), COLD_RUNS (default 3; 0 skips the cold
# page cache runs), WORK (work folder, default $CARGO_TARGET_DIR or target, then
# /store-index-bench), PER_DAY (sessions per day folder, default 10000: the issue's account),
# BIN (the sessionstats binary to time; default: a release build made here), OLD_BIN (another
# binary, e.g. one from before the index, timed afterwards on the same stores in the first case,
# OLD_RUNS times warm, default 3, and OLD_COLD_RUNS times cold, default 1), REBUILD (default
# 1; 0 keeps the stores' indexes instead of timing their rebuild).
#
# For each size it generates a store once (cached in WORK; one small session document per file,
# PER_DAY to a day folder, as `fetch` writes them), removes its index and times the first fetch,
# which rebuilds the index from every document. Then it times `sessionstats fetch --ids` of one
# id against a loopback API (a small Python server) in three cases:
#   - new:     a session of the day after the store's last day (last night's, for a nightly
#              job); the API says it is ongoing, so every run downloads it, stores it and writes
#              the index: the night's work, one session;
#   - refresh: the same for an ongoing session of the store's last day, whose folder holds
#              PER_DAY sessions (a run checks the folders it wrote to: it lists this one);
#   - present: an id the store holds as ended: no request, nothing written.
# The store of 0 sessions is emptied before each of its runs (it then only ever holds the one
# session) and has only the first case. The runs go round the cases in turn (all cases once,
# then again), so a change in the machine's load touches every case alike: RUNS rounds with a
# warm page cache, then COLD_RUNS rounds each after `sync; echo 3 > /proc/sys/vm/drop_caches`
# (when this machine allows it). It prints the median wall-clock seconds, the ratio to the store
# of 0 (case new, same cache), the largest peak resident memory and the index size.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${WORK:-$TARGET/store-index-bench}
RUNS=${RUNS:-11}
COLD_RUNS=${COLD_RUNS:-3}
PER_DAY=${PER_DAY:-10000}
OLD_RUNS=${OLD_RUNS:-3}
OLD_COLD_RUNS=${OLD_COLD_RUNS:-1}
REBUILD=${REBUILD:-1}
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(0 100000 1000000)

if [[ -z ${BIN:-} ]]; then
    echo "== build (release)"
    (cd "$ROOT" && cargo build --release --quiet --bin sessionstats)
    BIN=$TARGET/release/sessionstats
fi
[[ -x /usr/bin/time ]] || {
    echo "installing GNU time for peak-memory figures (apt-get install -y time)" >&2
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
}
mkdir -p "$WORK"
rm -rf "$WORK/times"
mkdir -p "$WORK/times"

can_drop=no
if [[ $COLD_RUNS -gt 0 ]] && sync && (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then
    can_drop=yes
fi

echo "== machine"
echo "   $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $(uname -sr), $(df -T "$WORK" | awk 'NR==2 {print $2}') file system, binary $BIN"
echo "   dropping the page cache: $can_drop$([[ $can_drop == no && $COLD_RUNS -gt 0 ]] && echo ' (not allowed here: no cold figures)')"

# The session documents: ObjectId-like ids (24 hex digits), PER_DAY per day folder from
# 2023-01-01, each ended one hour after its start, about 230 bytes.
generate() { # SIZE DIR
    python3 - "$1" "$2" "$PER_DAY" <<'PY'
import datetime, os, sys
n, out, per_day = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
first = datetime.date(2023, 1, 1)
folder = None
for i in range(n):
    day = first + datetime.timedelta(days=i // per_day)
    if i % per_day == 0:
        folder = os.path.join(out, day.isoformat())
        os.makedirs(folder)
    sid = "%08x%016x" % (1672531200 + i, (i * 0x9E3779B97F4A7C15) % (1 << 64))
    second = i % per_day * 8 % 86400
    start = "%sT%02d:%02d:%02d.000Z" % (day, second // 3600, second // 60 % 60, second % 60)
    end = "%sT%02d:%02d:%02d.000Z" % (day, min(23, second // 3600 + 1), second // 60 % 60, second % 60)
    doc = ('{"id":"%s","roomId":"room-%d","start":"%s","end":"%s","participants":'
           '[{"participantId":"p1","name":"Ada","timelog":[{"start":"%s","end":"%s"}]}]}'
           % (sid, i % 997, start, end, start, end))
    with open(os.path.join(folder, sid + ".json"), "w") as f:
        f.write(doc)
PY
}

day_after() { python3 -c "import datetime; print(datetime.date(2023, 1, 1) + datetime.timedelta(days=$1))"; }

# The loopback API: GET /v2/sessions/ID answers the ongoing session ID, started on the day
# given as ID=DAY on its command line; anything else is a 404. Writes its port to PORTFILE.
serve() { # PORTFILE ID=DAY…
    python3 - "$@" <<'PY' &
import http.server, sys
portfile, docs = sys.argv[1], {}
for arg in sys.argv[2:]:
    sid, day = arg.split("=")
    docs["/v2/sessions/" + sid] = (
        '{"id":"%s","roomId":"room-0","start":"%sT23:00:00.000Z","end":null,"status":"ongoing",'
        '"participants":[{"participantId":"p1","timelog":[{"start":"%sT23:00:00.000Z","end":null}]}]}'
        % (sid, day, day)).encode()
class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        found = docs.get(self.path.rstrip("/"))
        body = found or b'{"message":"Session not found"}'
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
open(portfile, "w").write(str(server.server_address[1]))
server.serve_forever()
PY
    SERVER_PID=$!
    for _ in $(seq 100); do [[ -s $1 ]] && break; sleep 0.05; done
    [[ -s $1 ]] || { echo "the loopback API did not start" >&2; exit 1; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# once KEY BIN STORE IDS: one timed fetch; appends its seconds and peak RSS (KB) to
# $WORK/times/KEY.
once() {
    local key=$1 bin=$2 store=$3 ids=$4 t0 t1 code=0
    t0=$(date +%s%N)
    VIDEOSDK_TOKEN=bench.token.signature /usr/bin/time -f %M -o "$WORK/rss" \
        "$bin" fetch --out "$store" --ids "$ids" --api-url "http://127.0.0.1:$PORT" \
        >"$WORK/out" 2>"$WORK/err" || code=$?
    t1=$(date +%s%N)
    if [[ $code -ne 0 ]]; then
        echo "fetch failed (exit $code):" >&2; cat "$WORK/out" "$WORK/err" >&2; exit 1
    fi
    echo "$(( (t1 - t0) / 1000 )) $(tail -1 "$WORK/rss")" >> "$WORK/times/$key"
}

# The stores, their ids, the API.
server_args=()
cases=()
for size in "${SIZES[@]}"; do
    store=$WORK/store-$size
    days=$(( (size + PER_DAY - 1) / PER_DAY ))
    if [[ $size -gt 0 && ! -d $store ]]; then
        echo "== generate a store of $size sessions in $store"
        rm -rf "$store.partial"
        start=$(date +%s)
        generate "$size" "$store.partial"
        mv "$store.partial" "$store"
        echo "   $(( $(date +%s) - start )) s"
    fi
    printf 'bench-new-%s\n' "$size" > "$WORK/ids-$size-new"
    printf 'bench-refresh-%s\n' "$size" > "$WORK/ids-$size-refresh"
    python3 -c "print('%08x%016x' % (1672531200, 0))" > "$WORK/ids-$size-present"
    server_args+=("bench-new-$size=$(day_after "$days")" "bench-refresh-$size=$(day_after "$(( days > 0 ? days - 1 : 0 ))")")
    cases+=("$size:new")
    [[ $size -gt 0 ]] && cases+=("$size:refresh" "$size:present")
done
rm -f "$WORK/port"
trap '[[ -n ${SERVER_PID:-} ]] && kill "$SERVER_PID" 2>/dev/null' EXIT
serve "$WORK/port" "${server_args[@]}"
PORT=$(cat "$WORK/port")

# The one-time cost: the first run after the index is removed rebuilds it from every document.
for size in "${SIZES[@]}"; do
    [[ $size -gt 0 ]] || continue
    store=$WORK/store-$size
    if [[ $REBUILD == 1 ]]; then
        rm -f "$store/.sessionstats-index"
        once "rebuild-$size" "$BIN" "$store" "$WORK/ids-$size-present"
        read -r us kb < "$WORK/times/rebuild-$size"
        echo "== $size sessions: first run, index rebuilt from every document: $(awk -v us="$us" 'BEGIN { printf "%.1f", us / 1e6 }') s, peak RSS $(( kb / 1024 )) MB"
        grep -h "store index" "$WORK/err" | sed 's/^/   /' || true
    fi
    # Settle the cases' sessions in (a run that stores them for the first time creates folders).
    for c in new refresh; do once "settle" "$BIN" "$store" "$WORK/ids-$size-$c"; done
done

round() { # COLD(yes/no) BIN TAG
    local cold=$1 bin=$2 tag=$3
    for c in "${cases[@]}"; do
        local size=${c%%:*} case=${c#*:}
        [[ $tag == old && $case != new ]] && continue
        local store=$WORK/store-$size
        [[ $size -eq 0 ]] && rm -rf "$store"
        if [[ $cold == yes ]]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
        once "$tag-$size-$case-$cold" "$bin" "$store" "$WORK/ids-$size-$case"
    done
}

echo "== timing: $RUNS warm rounds$([[ $can_drop == yes ]] && echo ", $COLD_RUNS cold rounds") over ${#cases[@]} cases"
for ((r = 0; r < RUNS; r++)); do round no "$BIN" new; done
if [[ $can_drop == yes ]]; then
    for ((r = 0; r < COLD_RUNS; r++)); do round yes "$BIN" new; done
fi
if [[ -n ${OLD_BIN:-} ]]; then
    echo "== timing $OLD_BIN: $OLD_RUNS warm rounds$([[ $can_drop == yes && $OLD_COLD_RUNS -gt 0 ]] && echo ", $OLD_COLD_RUNS cold rounds")"
    for ((r = 0; r < OLD_RUNS; r++)); do round no "$OLD_BIN" old; done
    if [[ $can_drop == yes ]]; then
        for ((r = 0; r < OLD_COLD_RUNS; r++)); do round yes "$OLD_BIN" old; done
    fi
fi

# stat TAG SIZE CASE COLD: "median_seconds max_rss_mb", or "- 0".
stat_of() {
    local f=$WORK/times/$1-$2-$3-$4
    [[ -s $f ]] || { echo "- 0"; return; }
    local med rss
    med=$(awk '{ print $1 }' "$f" | median)
    rss=$(awk '{ if ($2 > m) m = $2 } END { print int(m / 1024) }' "$f")
    awk -v us="$med" -v rss="$rss" 'BEGIN { printf "%.3f %d\n", us / 1e6, rss }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "== fetch --ids of one id: median seconds; x 0 is the ratio to the store of 0 (case new,"
echo "   same binary, same cache); RSS the largest peak resident memory"
printf '%-10s %-9s %9s %6s %9s %6s %7s %10s\n' sessions case warm "x 0" cold "x 0" "RSS MB" "index KB"
for tag in new old; do
    [[ $tag == old && -z ${OLD_BIN:-} ]] && continue
    read -r base_warm _ < <(stat_of "$tag" "${SIZES[0]}" new no)
    read -r base_cold _ < <(stat_of "$tag" "${SIZES[0]}" new yes)
    for c in "${cases[@]}"; do
        size=${c%%:*} case=${c#*:}
        [[ $tag == old && $case != new ]] && continue
        read -r warm rss_w < <(stat_of "$tag" "$size" "$case" no)
        read -r cold rss_c < <(stat_of "$tag" "$size" "$case" yes)
        index=-
        if [[ $tag == new ]]; then
            index=$(( $(stat -c %s "$WORK/store-$size/.sessionstats-index" 2>/dev/null || echo 0) / 1024 ))
        fi
        label=$case
        [[ $tag == old ]] && label="old:$case"
        printf '%-10s %-9s %9s %6s %9s %6s %7s %10s\n' "$size" "$label" "$warm" "$(ratio "$warm" "$base_warm")" \
            "$cold" "$(ratio "$cold" "$base_cold")" "$(( rss_w > rss_c ? rss_w : rss_c ))" "$index"
    done
done
