#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), one after the other, seeded
# from data/sample, at the lowest CPU priority. Needs the nightly toolchain and cargo-fuzz
# (cargo install cargo-fuzz). Exits non-zero on the first crash; the input is kept in
# fuzz/artifacts/TARGET/.
#
#   bash fuzz/run.sh 5        # CI: a few seconds each
#   bash fuzz/run.sh 900      # 15 minutes each
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$here"
export CARGO_TARGET_DIR="$here/target"
targets=(document ndjson_gzip page timestamp store_name)
if [ -n "${FUZZ_TARGETS:-}" ]; then read -r -a targets <<<"$FUZZ_TARGETS"; fi

seed() {
  local target="$1" dir="$here/corpus/$1"
  mkdir -p "$dir"
  [ -e "$dir/.seeded" ] && return 0
  case "$target" in
    document|ndjson_gzip|page)
      # Every sample document, as it is (JSON and NDJSON; .gz decompressed).
      find "$root/data/sample" -type f | while read -r f; do
        n="$(basename "$f")"
        case "$f" in
          *.gz) gzip -dc "$f" | head -c 65536 >"$dir/sample-$n" 2>/dev/null || true ;;
          *) head -c 65536 "$f" >"$dir/sample-$n" ;;
        esac
      done ;;
    timestamp)
      # Every timestamp of the samples, one per file.
      grep -rhoE '"[0-9]{4}-[0-9]{2}-[0-9]{2}T[^"]*"' "$root/data/sample" 2>/dev/null \
        | tr -d '"' | sort -u | sed -n '1,200p' | nl -ba | while read -r i t; do
          printf '%s' "$t" >"$dir/ts-$i"
        done ;;
    store_name)
      # Every session id of the samples, one per file, and a few hostile ones.
      grep -rhoE '"id": *"[^"]*"' "$root/data/sample" 2>/dev/null \
        | sed -E 's/"id": *"(.*)"/\1/' | sort -u | sed -n '1,200p' | nl -ba | while read -r i t; do
          printf '%s' "$t" >"$dir/id-$i"
        done
      printf '../../x' >"$dir/hostile-1"; printf '.hidden' >"$dir/hostile-2"
      printf 'a/b\\c%%2F' >"$dir/hostile-3" ;;
  esac
  touch "$dir/.seeded"
}

nice -n 19 cargo +nightly fuzz build
for target in "${targets[@]}"; do
  seed "$target"
  echo "fuzz: $target for ${seconds}s"
  nice -n 19 cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=120 \
    -print_final_stats=1 2>&1 | tee "$CARGO_TARGET_DIR/fuzz-$target.log" \
    | grep -E '^(#[0-9]+.*DONE|Done|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)' || true
  if grep -qE '==[0-9]+==ERROR|^SUMMARY|panicked at|deadly signal' "$CARGO_TARGET_DIR/fuzz-$target.log"; then
    echo "fuzz: $target crashed; see fuzz/artifacts/$target/ and $CARGO_TARGET_DIR/fuzz-$target.log" >&2
    exit 1
  fi
  grep -E '^#[0-9]+' "$CARGO_TARGET_DIR/fuzz-$target.log" | tail -1 || true
done
