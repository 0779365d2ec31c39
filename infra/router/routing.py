"""Renders the route table (layers/tasktracker/routes.toml, read through tasktracker.routes) as an nginx config."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktracker.routes import FunctionRoute, load_routes

_NGINX_TEMPLATE = """\
# Made from layers/tasktracker/routes.toml by infra/router/routing.py; do not edit by hand.
{main_block}
events {{ worker_connections 1024; }}

http {{
    server_tokens off;
    # nginx's combined format, and the correlation id the functions log too.
    log_format routed '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                      '"$http_referer" "$http_user_agent" correlation_id=$correlation_id';
    access_log {access_log} routed;
    error_log {error_log} warn;
    client_body_temp_path {temp_dir}/client_body;
    proxy_temp_path {temp_dir}/proxy;
    fastcgi_temp_path {temp_dir}/fastcgi;
    uwsgi_temp_path {temp_dir}/uwsgi;
    scgi_temp_path {temp_dir}/scgi;
    include {mime_types};
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;

    # The attachments function's limit (max upload + multipart envelope): a larger body is refused here in
    # full, before it is streamed to a function that would answer early and reset the connection. The other
    # functions refuse a JSON body past the largest valid one themselves (tasktracker/platform/request_bodies.py).
    client_max_body_size {max_body};

{upstreams}

    # The caller's X-Correlation-ID only when it is a short token (the functions' rule, CORRELATION_ID_PATTERN),
    # a new id otherwise: it is written into the router's own JSON errors and handed on to the functions, so
    # nothing else may reach them, and the router logs the very id the functions use.
    map $http_x_correlation_id $correlation_id {{
        default $request_id;
        "~{correlation_id_pattern}" $http_x_correlation_id;
    }}

    server {{
        listen {listen};
        server_name _;

        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy no-referrer always;
        add_header X-Frame-Options DENY always;
        # Functions send it themselves (API Gateway has no router); the router's copy is the one kept.
        proxy_hide_header X-Content-Type-Options;

        # Bodies over client_max_body_size are refused here, in the spec's error format.
        error_page 413 = @payload_too_large;
        location @payload_too_large {{
            default_type application/json;
            # add_header here replaces the server's list (nginx inheritance), so it is repeated whole.
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header X-Frame-Options DENY always;
            add_header X-Correlation-ID $correlation_id always;
            return 413 '{too_large_body}';
        }}

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        # The router is the one trusted hop: it replaces, never appends to, what the client claimed.
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Correlation-ID $correlation_id;
        # Stream request and response bodies (uploads, downloads) instead of spooling them to disk.
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_read_timeout 300s;
        proxy_send_timeout 300s;

{locations}

        location /api/ {{
            default_type application/json;
            # add_header here replaces the server's list (nginx inheritance), so it is repeated whole.
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header X-Frame-Options DENY always;
            add_header X-Correlation-ID $correlation_id always;
            return 404 '{not_found_body}';
        }}
{extra}
    }}
}}
"""


# The same as tasktracker.platform.correlation's (a test holds them equal): this module runs where only the
# route table's reader is installed.
CORRELATION_ID_PATTERN = r"^[A-Za-z0-9._-]{1,128}$"


_NOT_FOUND_BODY = (
    '{"error": {"code": "NOT_FOUND", "message": "No function serves this path", "details": {}, '
    '"correlation_id": "$correlation_id"}}'
)


_TOO_LARGE_BODY = (
    '{"error": {"code": "PAYLOAD_TOO_LARGE", "message": "The request body is larger than allowed", "details": {}, '
    '"correlation_id": "$correlation_id"}}'
)


# The SPA talks only to its own origin (/api); inline styles are allowed for the component library's sake.
SPA_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def spa_location(root: str) -> str:
    """Serves the built SPA at /: files as they are, index.html for client-side routes."""
    return f"""
        location / {{
            root {root};
            try_files $uri /index.html;
            add_header Content-Security-Policy "{SPA_CONTENT_SECURITY_POLICY}" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header X-Frame-Options DENY always;
        }}
        location = /index.html {{
            root {root};
            # The entry point must never be cached, so a new build is picked up at once.
            add_header Cache-Control "no-cache" always;
            add_header Content-Security-Policy "{SPA_CONTENT_SECURITY_POLICY}" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header X-Frame-Options DENY always;
        }}
        location /assets/ {{
            root {root};
            try_files $uri =404;
            # Vite names each built asset by its content hash, so a name never changes content.
            add_header Cache-Control "public, max-age=31536000, immutable" always;
            add_header Content-Security-Policy "{SPA_CONTENT_SECURITY_POLICY}" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header X-Frame-Options DENY always;
        }}
"""


def render_nginx(
    routes: list[FunctionRoute],
    *,
    hosts: dict[str, str] | None = None,
    listen: str = "8000",
    max_body_bytes: int = 25 * 1024 * 1024 + 64 * 1024,
    daemon: bool = True,
    pid_file: str | None = None,
    temp_dir: str = "/var/cache/nginx",
    access_log: str = "/dev/stdout",
    error_log: str = "/dev/stderr",
    mime_types: str = "/etc/nginx/mime.types",
    extra: str = "",
) -> str:
    """`hosts` maps a function to host:port (default 127.0.0.1:<port from the table>)."""
    hosts = hosts or {}
    upstreams = "\n".join(
        f"    upstream fn_{route.name} {{\n        server {hosts.get(route.name, f'127.0.0.1:{route.port}')};\n"
        f"        keepalive 16;\n    }}"
        for route in routes
    )
    locations = "\n".join(
        f"        location ~ {pattern} {{\n            proxy_pass http://fn_{route.name};\n"
        + (
            # nginx checks proxy_buffers against the larger proxy_buffer_size even though unbuffered responses
            # never use them.
            f"            proxy_buffer_size {route.response_chunk};\n"
            f"            proxy_buffers 4 {route.response_chunk};\n"
            if route.response_chunk
            else ""
        )
        + "        }"
        for route in routes
        for pattern in route.patterns
    )
    main_lines = [] if daemon else ["daemon off;"]
    if pid_file:
        main_lines.append(f"pid {pid_file};")
    main_lines.append("worker_processes auto;")
    return _NGINX_TEMPLATE.format(
        main_block="\n".join(main_lines),
        upstreams=upstreams,
        locations=locations,
        listen=listen,
        max_body=max_body_bytes,
        temp_dir=temp_dir,
        access_log=access_log,
        error_log=error_log,
        mime_types=mime_types,
        extra=extra,
        correlation_id_pattern=CORRELATION_ID_PATTERN,
        not_found_body=_NOT_FOUND_BODY,
        too_large_body=_TOO_LARGE_BODY,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Render the router's nginx config from the route table")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--listen", default="8000")
    parser.add_argument("--max-body-bytes", type=int, default=25 * 1024 * 1024 + 64 * 1024)
    parser.add_argument("--host-suffix", default=None, help="e.g. ':8000' to address functions by service name")
    parser.add_argument("--spa-root", default=None, help="a frontend build to serve at / (e.g. /usr/share/nginx/html)")
    args = parser.parse_args()
    routes = load_routes()
    hosts = {route.name: f"{route.name}{args.host_suffix}" for route in routes} if args.host_suffix else None
    config = render_nginx(
        routes,
        hosts=hosts,
        listen=args.listen,
        max_body_bytes=args.max_body_bytes,
        extra=spa_location(args.spa_root) if args.spa_root else "",
    )
    if args.output:
        args.output.write_text(config)
    else:
        print(config)


if __name__ == "__main__":
    main()
