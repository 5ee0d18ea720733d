#!/usr/bin/env bash
# Runs every libFuzzer harness of warden-fuzz for SECONDS each on its seed corpus (Fuzz/corpus/TARGET, made by the
# project), in a work folder so the committed corpus stays small. Writes OUT/summary.md (executions, coverage, crashes)
# and exits non-zero when a harness crashed; the crashing input is kept as OUT/TARGET/crash-*.
# Usage: Fuzz/run.sh BINARY SECONDS OUT [TARGET...]
set -uo pipefail
bin="$1"; seconds="$2"; out="$3"; shift 3
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(market books channel frame form notify config numbers recording clob)
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
summary="$out/summary.md"
{
  echo "| harness | seconds | executions | exec/s | coverage (edges) | features | corpus | crashes |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
} > "$summary"
failed=0
for t in "${targets[@]}"; do
  work="$out/$t"; rm -rf "$work"; mkdir -p "$work/corpus"
  cp "$here/corpus/$t/"* "$work/corpus/" 2>/dev/null
  [ -d "$here/crashes/$t" ] && cp "$here/crashes/$t/"* "$work/corpus/" 2>/dev/null
  WARDEN_FUZZ_TARGET="$t" ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" > "$work/log.txt" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$work/log.txt" | tail -1 | grep -o '[0-9]*')
  ft=$(grep -oE 'ft: [0-9]+' "$work/log.txt" | tail -1 | grep -o '[0-9]*')
  size=$(ls "$work/corpus" | wc -l)
  crashes=$(ls "$work" | grep -cE '^(crash|leak|timeout|oom)-')
  echo "| $t | $seconds | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $size | $crashes |" >> "$summary"
  if [ $rc -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    echo "FAIL fuzz $t (exit $rc): see $work/log.txt and the crash-* files there" >&2
    grep -m5 -E 'ERROR|Fatal error|SUMMARY' "$work/log.txt" >&2
  else
    echo "ok   fuzz $t: ${execs:-?} executions, coverage ${cov:-?} edges"
  fi
done
cat "$summary"
exit $failed
