# Helpers for tools/soak: the workload, the writers and the fault injector. Sourced, not executed.
#
# Expects: MUSTER (the binary), SOAK_DIR (a work directory), SOAK_DB (a libpq conninfo), SOAK_UNITS.
# Every muster command a writer runs is recorded in $SOAK_DIR/w<N>.tsv as `command_id <TAB> outcome`
# (accepted, duplicate, nochange, rejected, unknown): the input of tools/lib/soak-check.sql.

# The decision time of every command: after every readiness report's date, before the exercises.
SOAK_AT=2029-12-28

soak_uuid() { cat /proc/sys/kernel/random/uuid; }

# The setup every writer builds on: one nation, SOAK_UNITS units with a good readiness report, and
# two exercises with overlapping windows (a unit committed to one is refused by the other).
soak_seed_file() {
  local u
  cat <<'EOF'
{"command": "registerNation", "nation": "AUS", "name": "Australia"}
{"command": "planExercise", "exercise": "exa", "name": "SOAK A", "series": "Soak", "joint": false, "combined": true, "types": ["livex"], "window": {"start": "2030-01-10", "end": "2030-01-20"}, "ceiling": "RESTRICTED", "hostNations": ["AUS"], "leadNations": ["AUS"], "releasableTo": ["AUS"], "minimumReadiness": 3, "requiredStandards": [], "strategicObjectives": ["interoperability"]}
{"command": "planExercise", "exercise": "exb", "name": "SOAK B", "series": "Soak", "joint": false, "combined": true, "types": ["livex"], "window": {"start": "2030-01-15", "end": "2030-01-25"}, "ceiling": "RESTRICTED", "hostNations": ["AUS"], "leadNations": ["AUS"], "releasableTo": ["AUS"], "minimumReadiness": 3, "requiredStandards": [], "strategicObjectives": ["interoperability"]}
{"command": "inviteNation", "exercise": "exa", "nation": "AUS", "role": "participant"}
{"command": "acceptInvitation", "exercise": "exa", "nation": "AUS"}
{"command": "inviteNation", "exercise": "exb", "nation": "AUS", "role": "participant"}
{"command": "acceptInvitation", "exercise": "exb", "nation": "AUS"}
EOF
  for u in $(seq 1 "$SOAK_UNITS"); do
    echo "{\"command\": \"registerUnit\", \"unit\": \"aus-u$u\", \"nation\": \"AUS\", \"echelon\": \"battalion\", \"service\": \"land\", \"name\": \"Soak unit $u\"}"
    echo "{\"command\": \"reportReadiness\", \"unit\": \"aus-u$u\", \"asOf\": \"2029-01-01\", \"ratings\": {\"personnel\": 1, \"supplies\": 1, \"equipment\": 1, \"training\": 1}}"
  done
}

# A readiness report's JSON for unit $1 (a ghost unit is refused: it is not registered).
soak_report_json() {
  local day
  day=$(printf '2029-%02d-%02d' $((RANDOM % 3 + 10)) $((RANDOM % 28 + 1)))
  echo "{\"command\": \"reportReadiness\", \"unit\": \"$1\", \"asOf\": \"$day\", \"ratings\": {\"personnel\": $((RANDOM % 2 + 1)), \"supplies\": $((RANDOM % 2 + 1)), \"equipment\": $((RANDOM % 3 + 1)), \"training\": $((RANDOM % 4 + 1))}}"
}

# soak_run W ARGS...: runs one muster command with a fresh command id until its outcome is known,
# retrying with the same id when the writer was killed or the database was unavailable.
soak_run() {
  local w=$1; shift
  local id out="$SOAK_DIR/w$w.out" err="$SOAK_DIR/w$w.err" rc attempt
  id=$(soak_uuid)
  for attempt in $(seq 1 60); do
    "$MUSTER" "$@" --command-id "$id" --at "$SOAK_AT" --actor "writer-$w" --database "$SOAK_DB" >"$out" 2>"$err" &
    echo $! >"$SOAK_DIR/w$w.pid"
    { wait $!; } 2>/dev/null
    rc=$?
    rm -f "$SOAK_DIR/w$w.pid"
    cat "$err" >>"$err.all"
    soak_conflicts "$w" "$err"
    if [ $rc -ge 128 ] || grep -q 'database unavailable' "$err"; then
      printf '%s\tunknown\n' "$id" >>"$SOAK_DIR/w$w.tsv"
      soak_check_secret "$w" "$err"
      sleep 0.2
      continue
    fi
    case $rc in
      0)
        if grep -q '^already applied' "$out"; then printf '%s\tduplicate\n' "$id"
        elif grep -q '^no change' "$out"; then printf '%s\tnochange\n' "$id"
        else printf '%s\taccepted\n' "$id"; fi ;;
      1) printf '%s\trejected\n' "$id"; grep -h '^error:' "$err" | cut -c1-200 >>"$SOAK_DIR/w$w.rejections" ;;
      *) echo "writer $w: unexpected exit status $rc from muster $*: $(cat "$err")" >>"$SOAK_DIR/problems" ;;
    esac >>"$SOAK_DIR/w$w.tsv"
    return 0
  done
  echo "writer $w: command $id gave no outcome after 60 attempts: $(cat "$err")" >>"$SOAK_DIR/problems"
}

# soak_import W: imports five lines with explicit command ids: four reports and one for a ghost unit.
soak_import() {
  local w=$1 file="$SOAK_DIR/w$w.jsonl" ids=() i id rc err="$SOAK_DIR/w$w.err" attempt
  : >"$file"
  for i in 1 2 3 4 5; do
    id=$(soak_uuid); ids+=("$id")
    local unit="aus-u$((RANDOM % SOAK_UNITS + 1))"
    [ $i = 5 ] && unit=aus-ghost
    soak_report_json "$unit" | sed "s/}\$/, \"meta\": {\"commandId\": \"$id\", \"actor\": \"writer-$w\"}}/" >>"$file"
  done
  for attempt in $(seq 1 60); do
    "$MUSTER" import "$file" --at "$SOAK_AT" --database "$SOAK_DB" >"$SOAK_DIR/w$w.out" 2>"$err" &
    echo $! >"$SOAK_DIR/w$w.pid"
    { wait $!; } 2>/dev/null
    rc=$?
    rm -f "$SOAK_DIR/w$w.pid"
    if [ $rc -ge 128 ] || grep -q 'database unavailable' "$err"; then
      for id in "${ids[@]}"; do printf '%s\tunknown\n' "$id"; done >>"$SOAK_DIR/w$w.tsv"
      soak_check_secret "$w" "$err"
      sleep 0.2
      continue
    fi
    for i in 1 2 3 4 5; do
      if grep -q "^line $i: " "$err"; then printf '%s\trejected\n' "${ids[$((i - 1))]}"
      else printf '%s\taccepted\n' "${ids[$((i - 1))]}"; fi
    done >>"$SOAK_DIR/w$w.tsv"
    grep -h '^line' "$err" | cut -c1-200 >>"$SOAK_DIR/w$w.rejections"
    return 0
  done
  echo "writer $w: import gave no outcome after 60 attempts: $(cat "$err")" >>"$SOAK_DIR/problems"
}

soak_conflicts() {
  sed -n 's/.*concurrency conflicts retried: \([0-9]*\).*/\1/p' "$2" >>"$SOAK_DIR/w$1.conflicts"
}

# The connection string carries a password the server ignores (trust): it must never be printed.
soak_check_secret() {
  if grep -q 'soak-secret' "$2"; then echo "writer $1: a password reached stderr: $(cat "$2")" >>"$SOAK_DIR/problems"; fi
}

# soak_writer W END: issues commands until the epoch second END. Writers share SOAK_UNITS units and
# two exercises, so they conflict on the same streams; some commands are refused by the rules.
soak_writer() {
  set +e
  local w=$1 end=$2 unit ex day
  while [ "$(date +%s)" -lt "$end" ]; do
    unit="aus-u$((RANDOM % SOAK_UNITS + 1))"
    if [ $((RANDOM % 2)) = 0 ]; then ex=exa; else ex=exb; fi
    day=$(printf '2029-%02d-%02d' $((RANDOM % 3 + 10)) $((RANDOM % 28 + 1)))
    case $((RANDOM % 10)) in
      0 | 1) soak_run "$w" submit "$(soak_report_json "$unit")" ;;
      2 | 3) soak_run "$w" unit readiness report --unit "$unit" --as-of "$day" --personnel $((RANDOM % 2 + 1)) \
               --supplies $((RANDOM % 2 + 1)) --equipment $((RANDOM % 3 + 1)) --training $((RANDOM % 4 + 1)) ;;
      4 | 5) soak_run "$w" exercise commit --exercise "$ex" --unit "$unit" --role infantry ;;
      6) soak_run "$w" submit "{\"command\": \"releaseUnit\", \"exercise\": \"$ex\", \"unit\": \"$unit\", \"reason\": \"soak churn\"}" ;;
      7) soak_run "$w" submit "$(soak_report_json aus-ghost)" ;;
      *) soak_import "$w" ;;
    esac
  done
}

# soak_projector END: keeps one `muster projections run` alive until END (the injector kills it).
soak_projector() {
  set +e
  local end=$1 left
  while left=$(($1 - $(date +%s))) && [ "$left" -gt 0 ]; do
    "$MUSTER" projections run --for "$left" --poll 0.5 --database "$SOAK_DB" >>"$SOAK_DIR/projector.log" 2>&1 &
    echo $! >"$SOAK_DIR/projector.pid"
    { wait $!; } 2>/dev/null
    echo "projector exited with status $?" >>"$SOAK_DIR/projector.log"
    rm -f "$SOAK_DIR/projector.pid"
    sleep 0.2
  done
}

# True when pid $1 is alive and runs muster (guards against a reused pid).
soak_is_muster() { [ -n "$1" ] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q "$MUSTER"; }

# soak_injector END WRITERS RESTARTS: until END, every 0.5-2 s kills -9 a writer's muster process or
# the projector; restarts PostgreSQL RESTARTS times at even intervals. Counts each fault in files.
soak_injector() {
  set +e
  local end=$1 writers=$2 restarts=$3 start pid w next_restart gap
  start=$(date +%s)
  gap=$(((end - start) / (restarts + 1)))
  next_restart=$((start + gap))
  while [ "$(date +%s)" -lt "$end" ]; do
    sleep "$((RANDOM % 2)).$((RANDOM % 9 + 1))"
    [ "$(date +%s)" -lt "$end" ] || break
    if [ "$restarts" -gt 0 ] && [ "$(date +%s)" -ge "$next_restart" ]; then
      restarts=$((restarts - 1)); next_restart=$((next_restart + gap))
      pg_stop "$SOAK_PG"; sleep 1; pg_start "$SOAK_PG" "$SOAK_FSYNC"
      echo restart >>"$SOAK_DIR/faults"
      continue
    fi
    if [ "${SOAK_SERVER:-0}" = 1 ] && [ $((RANDOM % 5)) = 0 ]; then
      pid=$("$MUSTER" server status | sed -n 's/.*(pid \([0-9]*\),.*/\1/p')
      if soak_is_muster "$pid" && kill -9 "$pid" 2>/dev/null; then echo server >>"$SOAK_DIR/faults"; fi
      "$MUSTER" server start >/dev/null 2>&1
    elif [ $((RANDOM % 4)) = 0 ]; then
      pid=$(cat "$SOAK_DIR/projector.pid" 2>/dev/null)
      if soak_is_muster "$pid" && kill -9 "$pid" 2>/dev/null; then echo projector >>"$SOAK_DIR/faults"; fi
    else
      w=$((RANDOM % writers + 1))
      pid=$(cat "$SOAK_DIR/w$w.pid" 2>/dev/null)
      if soak_is_muster "$pid" && kill -9 "$pid" 2>/dev/null; then echo writer >>"$SOAK_DIR/faults"; fi
    fi
  done
}
