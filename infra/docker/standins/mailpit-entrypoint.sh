#!/bin/sh
# Mailpit's command line as the compose file uses it: `/mailpit` serves SMTP on MP_SMTP_BIND_ADDR and the API on
# MP_UI_BIND_ADDR (host:port, default 0.0.0.0:1025 and 0.0.0.0:8025), and `/mailpit readyz` exits 0 once the API
# answers, which is the upstream image's health check. The mail sink binds one host for both: the SMTP one.
set -eu

smtp_address="${MP_SMTP_BIND_ADDR:-0.0.0.0:1025}"
ui_address="${MP_UI_BIND_ADDR:-0.0.0.0:8025}"
smtp_host="$(echo "${smtp_address%:*}" | tr -d '[]')"
smtp_port="${smtp_address##*:}"
ui_port="${ui_address##*:}"

if [ "${1:-}" = readyz ]; then
  exec python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' \
    "http://127.0.0.1:${ui_port}/readyz"
fi
if [ "$#" -gt 0 ]; then
  echo "this stand-in takes its settings from MP_SMTP_BIND_ADDR and MP_UI_BIND_ADDR, not arguments: $*" >&2
  exit 2
fi
# No MP_DATABASE: like Mailpit without one, messages last as long as the container.
mkdir -p /tmp/mailpit
exec python -m local.mail_sink --folder /tmp/mailpit --host "${smtp_host:-0.0.0.0}" \
  --smtp-port "$smtp_port" --http-port "$ui_port"
