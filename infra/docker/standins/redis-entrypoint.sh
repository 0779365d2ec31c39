#!/bin/sh
# As the upstream redis image: `redis-server ...` runs as the redis user in /data, protected mode off.
set -eu
if [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
  fi
  shift
  exec redis-server "$@" --protected-mode no
fi
exec "$@"
