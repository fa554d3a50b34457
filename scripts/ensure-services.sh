#!/usr/bin/env bash
# Start the services the test suite needs when they are not already running (MariaDB).
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
