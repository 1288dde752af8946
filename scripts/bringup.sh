#!/usr/bin/env bash
# One bring-up for `make demo`, `make test`, `make up` and CI. Idempotent: run it as often as you like.
#  1. the project's virtualenv (.venv) with the pinned requirements
#  2. espeak-ng (narration) from Debian's packages when missing and we are root
#  3. Redis and MariaDB answering on loopback: reused when they answer, else started project-local
#     from the machine's packages (installed first when missing and we are root), data in .local/
#  4. the database and its migrations
#  5. the AWS emulator on 127.0.0.1:4566: LocalStack when it answers there, else the moto server
#  6. the localstack/init/ready.d hooks (bucket, KMS key, secrets) against whichever answers
# Nothing listens beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOCAL=$ROOT/.local
mkdir -p "$LOCAL/log" "$LOCAL/run"
say() { printf '\033[1m[bringup]\033[0m %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do "$@" && return 0; sleep 0.2; done
  say "$what did not come up in ${secs}s (logs in $LOCAL/log)"; return 1
}
APT_UPDATED=
apt_install() {
  is_root && command -v apt-get >/dev/null || { say "cannot install $* (not root or no apt-get)"; return 1; }
  [ -n "$APT_UPDATED" ] || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

REDIS_PORT=${REDIS_PORT:-6379}
MYSQL_PORT=${MYSQL_PORT:-3306}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_REGION=${AWS_REGION:-us-east-1}
export MEDIA_BUCKET=${MEDIA_BUCKET:-media-local}

# 1. virtualenv ---------------------------------------------------------------------------------
# One Python version everywhere (.python-version): scripts/find_python.sh says which, or why none.
PY=$(bash scripts/find_python.sh) || exit 1
PY_VERSION=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -x .venv/bin/python ] && [ "$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$PY_VERSION" ]; then
  say "recreating .venv for Python $PY_VERSION (it has $(.venv/bin/python --version 2>&1))"; rm -rf .venv
fi
[ -x .venv/bin/python ] || { say "creating .venv with $PY"; "$PY" -m venv .venv; }
STAMP=$(cat requirements.txt requirements-worker.txt requirements-dev.txt client/pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat .venv/.requirements 2>/dev/null)" != "$STAMP" ]; then
  say "installing requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check 'pip<26.3'
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$STAMP" > .venv/.requirements
fi
[ "${1:-}" != "--venv-only" ] || exit 0  # `make venv`: the unit tier needs no services

# 2. espeak-ng ----------------------------------------------------------------------------------
command -v espeak-ng >/dev/null || { say "installing espeak-ng"; apt_install espeak-ng \
  || say "espeak-ng unavailable: narration will be a silent track (noted on each job)"; }

# libass draws the karaoke captions with DejaVu (the worker image installs it too)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || { say "installing fonts-dejavu-core"; \
  apt_install fonts-dejavu-core || say "DejaVu fonts unavailable: captions use another font"; }

# 3. Redis and MariaDB --------------------------------------------------------------------------
if ! port_open "$REDIS_PORT"; then
  command -v redis-server >/dev/null || { say "installing redis-server"; apt_install redis-server; }
  say "starting a project-local Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$LOCAL/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$LOCAL/redis" --pidfile "$LOCAL/run/redis.pid" --logfile "$LOCAL/log/redis.log"
  wait_for Redis 15 port_open "$REDIS_PORT"
fi

if ! port_open "$MYSQL_PORT"; then
  command -v mariadbd >/dev/null || command -v mysqld >/dev/null \
    || { say "installing mariadb-server"; apt_install mariadb-server; }
  DATADIR=$LOCAL/mysql
  if [ ! -d "$DATADIR/mysql" ]; then
    say "initialising a project-local MariaDB in $DATADIR"
    # --no-defaults: the machine's my.cnf (user, datadir, socket) must not leak into ours.
    mariadb-install-db --no-defaults --datadir="$DATADIR" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$LOCAL/log/mariadb-install.log" 2>&1 \
      || { rm -rf "$DATADIR"; say "mariadb-install-db failed: see $LOCAL/log/mariadb-install.log"; exit 1; }
  fi
  say "starting a project-local MariaDB on 127.0.0.1:$MYSQL_PORT"
  MYSQLD=$(command -v mariadbd || command -v mysqld)
  setsid nohup "$MYSQLD" --no-defaults --datadir="$DATADIR" --user="$(id -un)" --bind-address=127.0.0.1 \
    --port="$MYSQL_PORT" --socket="$LOCAL/run/mysql.sock" --pid-file="$LOCAL/run/mysql.pid" \
    --log-error="$LOCAL/log/mariadb.log" >/dev/null 2>&1 &
  wait_for MariaDB 60 port_open "$MYSQL_PORT"
fi

# 4. database and migrations (retried briefly: a fresh server may still be starting) ------------
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  .venv/bin/python -m chalicelib.infra.migrate 2>"$LOCAL/log/migrate.err" && break
  [ "$attempt" = 10 ] && { cat "$LOCAL/log/migrate.err" >&2; exit 1; }
  sleep 1
done
cat "$LOCAL/log/migrate.err" >&2

# 5. AWS emulator -------------------------------------------------------------------------------
emulator_up() { # any HTTP status at all: something serves AWS there
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$AWS_ENDPOINT_URL/" 2>/dev/null)" != 000 ]; }
if emulator_up; then
  kind="an AWS emulator"
  curl -fs -o /dev/null --max-time 2 "$AWS_ENDPOINT_URL/_localstack/health" 2>/dev/null && kind=LocalStack
  say "$kind already answers at $AWS_ENDPOINT_URL"
else
  say "starting the moto server on 127.0.0.1:4566"
  setsid nohup .venv/bin/moto_server -H 127.0.0.1 -p 4566 >"$LOCAL/log/moto.log" 2>&1 &
  echo $! > "$LOCAL/run/moto.pid"
  wait_for "moto server" 30 emulator_up
fi

# 6. init hooks: the same files LocalStack runs from ready.d ------------------------------------
for hook in localstack/init/ready.d/*; do
  case "$hook" in
    *.py) .venv/bin/python "$hook" ;;
    *.sh) bash "$hook" ;;
  esac
done
# 7. the web console (scripts/build_web.sh) ------------------------------------------------------
bash scripts/build_web.sh

say "ready: Redis 127.0.0.1:$REDIS_PORT, MariaDB 127.0.0.1:$MYSQL_PORT, AWS $AWS_ENDPOINT_URL"
