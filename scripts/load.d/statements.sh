# shellcheck shell=bash disable=SC2154 # first_token, read_body, write_body: set by scripts/load
# STATEMENTS=1 with DATABASE=postgres, sourced by scripts/load after the warm-up (so every pooled
# connection has already prepared what it prepares): every statement the throw-away cluster
# receives for one read (todos(first: 20) { nodes { id title completed } }) and one createTodo,
# sent by todoql and then by the ceiling, printed to stderr with a count of each kind.
#
# The cluster logs them with log_min_duration_statement = 0: a statement sent over the extended
# protocol shows as its parse (when not prepared yet), bind and execute steps, each on a line;
# one sent as a simple query (BEGIN, COMMIT, SET …) as `statement:`. What the log cannot show
# is a round trip that carries no statement (a Sync alone, as a pool's ping before lending a
# connection): count those with strace on the server, or tcpdump on the cluster's port.

pg_log_statements() { # on|off
  if [[ "$1" == on ]]; then
    psql "$PG_ADMIN" -q -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
      -c "ALTER SYSTEM SET log_line_prefix = '[%p] %a '" -c 'SELECT pg_reload_conf()' >/dev/null
  else
    psql "$PG_ADMIN" -q -c 'ALTER SYSTEM RESET log_min_duration_statement' \
      -c 'ALTER SYSTEM RESET log_line_prefix' -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  # Idle backends read the new settings before their next command; give the signal a moment.
  sleep 0.5
}

# statements_of LABEL PORT BODY: sends BODY once and prints what the cluster logged meanwhile.
statements_of() {
  local log="$PG_DIR/server.log" from lines
  from=$(($(wc -l <"$log") + 1))
  curl -sS -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $first_token" \
    --data-binary "$3" "http://127.0.0.1:$2/graphql"
  sleep 0.3
  # psql's own lines (application_name psql) are this script's, not the server's.
  lines=$(tail -n +"$from" "$log" | grep -E '^\[[0-9]+\] ' | grep -v '^\[[0-9]*\] psql ' | grep ' LOG: ' || true)
  {
    echo "-- $1: $(grep -c . <<<"$lines") lines: $(grep -c ' parse ' <<<"$lines") parse, $(grep -c ' bind ' <<<"$lines") bind," \
      "$(grep -c ' execute ' <<<"$lines") execute, $(grep -c ' statement: ' <<<"$lines") simple statements," \
      "from $(grep -oE '^\[[0-9]+\]' <<<"$lines" | sort -u | grep -c .) backend(s)"
    sed -E 's/^\[([0-9]+)\] [^ ]* ?LOG: +duration: [0-9.]+ ms +/  [\1] /' <<<"$lines"
  } >&2
}

echo "== the statements of one read and one createTodo (STATEMENTS=1)" >&2
# Every pooled connection of both servers has written once, so each has prepared its write.
for port in "$TODOQL_PORT" "$CEILING_PORT"; do
  wrk -t1 -c"$CONNECTIONS" -d1s -s "$LUA" "http://127.0.0.1:$port" -- write "$WORK/tokens" >/dev/null 2>&1 || true
done
clear_writes
pg_log_statements on
statements_of "todoql read" "$TODOQL_PORT" "$read_body"
statements_of "todoql createTodo" "$TODOQL_PORT" "$write_body"
statements_of "ceiling read" "$CEILING_PORT" "$read_body"
statements_of "ceiling createTodo" "$CEILING_PORT" "$write_body"
pg_log_statements off
clear_writes
