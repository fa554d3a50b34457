#!/usr/bin/env bash
# Start what the test suite needs when it is not already there: MariaDB, Redis, and Chromium for browser tests.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 3306; then
  echo "MariaDB is not running; starting it" >&2
  if command -v start-stop-daemon >/dev/null && [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  elif command -v service >/dev/null; then
    service mariadb start || true
  fi
  for _ in $(seq 1 60); do port_open 3306 && break; sleep 0.5; done
  port_open 3306 || { echo "MariaDB could not be started on 127.0.0.1:3306" >&2; exit 1; }
fi

# Redis carries the RQ queue (EXECUTOR=rq) that tests/test_rq_workers.py runs against.
if ! port_open 6379; then
  echo "Redis is not running; starting it" >&2
  if ! command -v redis-server >/dev/null; then
    sudo_="" ; [ "$(id -u)" = "0" ] || sudo_="sudo"
    $sudo_ apt-get update -qq && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 40); do port_open 6379 && break; sleep 0.25; done
  port_open 6379 || { echo "Redis could not be started on 127.0.0.1:6379" >&2; exit 1; }
fi

# The browser tests drive Debian's Chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ]; then
  echo "Chromium is not installed; installing Debian's package" >&2
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
