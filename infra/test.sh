#!/usr/bin/env bash
# Run Conveyor's checks and tests on this machine: lint, types, and the test suite against real Redis, SQLite,
# PostgreSQL, git and bash. Installs what it needs first; starts Redis and PostgreSQL when they are installed but
# not running. Extra arguments go to pytest (e.g. `infra/test.sh tests/unit -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

need_packages=()
command -v git >/dev/null || need_packages+=(git)
command -v bash >/dev/null || need_packages+=(bash)
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v bwrap >/dev/null || need_packages+=(bubblewrap)  # the build sandbox's tests
command -v setfacl >/dev/null || need_packages+=(acl)  # the deploy agent's acls tests
python3 -c 'import venv, ensurepip' 2>/dev/null || need_packages+=(python3-venv)
if [ ${#need_packages[@]} -gt 0 ]; then
  say "installing ${need_packages[*]}"
  as_root apt-get update -qq && as_root apt-get install -y -qq "${need_packages[@]}" \
    || { echo "cannot install ${need_packages[*]}: install them and run again" >&2; exit 1; }
fi

say "python environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

export CONVEYOR_TEST_REDIS_URL="${CONVEYOR_TEST_REDIS_URL:-redis://127.0.0.1:6379/13}"
if ! redis-cli -u "${CONVEYOR_TEST_REDIS_URL%/*}" ping >/dev/null 2>&1; then
  say "starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/conveyor-test-redis.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

export CONVEYOR_TEST_POSTGRES_URL="${CONVEYOR_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
pg_up() { .venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" \
            "$CONVEYOR_TEST_POSTGRES_URL" 2>/dev/null; }
if ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null; then
    say "installing PostgreSQL"
    as_root apt-get update -qq && as_root apt-get install -y -qq postgresql || true
  fi
  if command -v pg_ctlcluster >/dev/null; then
    say "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -n1)" main start 2>/dev/null || true
    sleep 2
    if ! pg_up; then  # a fresh install trusts only local peers: give this user a role and a database
      me=$(id -un)
      as_root su postgres -c "createuser --superuser $me" 2>/dev/null || true
      as_root su postgres -c "createdb --owner $me conveyor_test" 2>/dev/null || true
      export CONVEYOR_TEST_POSTGRES_URL="postgresql:///conveyor_test?host=/var/run/postgresql"
    fi
  fi
  if ! pg_up; then
    echo "note: no PostgreSQL reachable at $CONVEYOR_TEST_POSTGRES_URL" >&2
  fi
fi

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "mypy"
.venv/bin/mypy
say "pytest"
set +e
.venv/bin/python -m pytest -n "${CONVEYOR_TEST_PROCESSES:-3}" "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests" >&2
  exit 0
fi
exit "$status"
