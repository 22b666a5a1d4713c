#!/usr/bin/env bash
# Install Conveyor from this checkout and start web, worker and scheduler on the embedded defaults (SQLite, a local
# blob directory, a local redis-server), then push a demo commit through a signed webhook and watch it go green.
#
#   infra/quickstart.sh            PORT=9000 infra/quickstart.sh            CONVEYOR_DATA_DIR=/srv/conveyor infra/quickstart.sh
#
# Safe to run again: it reuses what is installed and restarts the processes it started before.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

packages=()
command -v python3 >/dev/null || packages+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
command -v git >/dev/null || packages+=(git)
if [ -z "${CONVEYOR_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then packages+=(redis-server); fi
if [ ${#packages[@]} -gt 0 ]; then
  say "installing ${packages[*]} from the OS packages"
  if ! { as_root apt-get update -qq && as_root apt-get install -y -qq "${packages[@]}"; }; then
    echo "Could not install ${packages[*]}. Install them yourself (Debian/Ubuntu: apt-get install ${packages[*]})," >&2
    echo "or set CONVEYOR_REDIS_URL to a Redis server you already run, then run this again." >&2
    exit 1
  fi
fi

say "installing Conveyor into .venv"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
conveyor=.venv/bin/conveyor

data_dir=$(.venv/bin/python -c 'from conveyor.config import load_settings; print(load_settings().data_dir)')
mkdir -p "$data_dir"
if [ -z "${CONVEYOR_GITHUB_WEBHOOK_SECRET:-}" ] && ! grep -qs '^github_webhook_secret' "$data_dir/conveyor.toml"; then
  say "generating a GitHub webhook secret in $data_dir/conveyor.toml"
  umask 077
  printf 'github_webhook_secret = "%s"\n' "$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(24))')" \
    >> "$data_dir/conveyor.toml"
fi

port="${PORT:-8000}"
[ -f "$data_dir/stack.json" ] && "$conveyor" down >/dev/null 2>&1 || true
say "starting web, worker and scheduler from the Procfile on port $port"
"$conveyor" up --detach --port "$port"

say "pushing the example app to the demo pipeline"
"$conveyor" --server "http://127.0.0.1:$port" demo

cat <<EOF

Conveyor is running at http://127.0.0.1:$port with its data in $data_dir.
  .venv/bin/conveyor executions list                 what ran
  .venv/bin/conveyor webhooks deliveries             what each push started, or why it started nothing
  .venv/bin/conveyor queues                          work waiting on each queue, and the workers taking it
  .venv/bin/conveyor pipeline create -f FILE         register your own CodePipeline definition
  curl http://127.0.0.1:$port/healthz                health of SQL and Redis
  .venv/bin/conveyor down                            stop everything
Point a GitHub webhook (content type application/json, the secret in $data_dir/conveyor.toml) at
http://<this host>:$port/webhooks/github to run pipelines on every push.
EOF
