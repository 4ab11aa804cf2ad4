#!/bin/sh
# Renders every TEMPLATE_DIR/*.template into CONF_DIR with envsubst, replacing only the variables
# that are set (nginx's own $host, $uri stay), as the official nginx image does; then runs "$@",
# and when that is nginx, watches BACKEND_ADDR's name (see watch_backend).
set -eu
TEMPLATE_DIR=${NGINX_TEMPLATE_DIR:-/etc/nginx/templates}
CONF_DIR=${NGINX_CONF_DIR:-/tmp/nginx/conf.d}
WORK_DIR=$(dirname "$CONF_DIR")

mkdir -p "$CONF_DIR" "$WORK_DIR/client_body" "$WORK_DIR/proxy" "$WORK_DIR/fastcgi" \
    "$WORK_DIR/uwsgi" "$WORK_DIR/scgi"
defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
for template in "$TEMPLATE_DIR"/*.template; do
    [ -e "$template" ] || continue
    name=$(basename "$template" .template)
    envsubst "$defined" < "$template" > "$CONF_DIR/$name"
    echo "entrypoint.sh: rendered $template to $CONF_DIR/$name" >&2
done

# REAL_IP_FROM: addresses or CIDRs of a proxy in front (TLS) whose X-Forwarded-For names the client;
# nginx then keys its limits on, logs and forwards that client, not the proxy. Unset: the peer.
rm -f "$CONF_DIR/real-ip.conf"
if [ -n "${REAL_IP_FROM:-}" ]; then
    case "$REAL_IP_FROM" in
        *[!0-9A-Fa-f.:/,\ ]*)
            echo "entrypoint.sh: REAL_IP_FROM takes addresses or CIDRs separated by commas" >&2
            exit 1 ;;
    esac
    for address in $(echo "$REAL_IP_FROM" | tr ',' ' '); do
        echo "set_real_ip_from $address;"
    done > "$CONF_DIR/real-ip.conf"
    echo "real_ip_header X-Forwarded-For;" >> "$CONF_DIR/real-ip.conf"
fi
# The addresses a name resolves to, sorted, on one line.
resolve() {
    getent ahosts "$1" | awk '{print $1}' | sort -u | tr '\n' ' '
}

# nginx resolves upstream names only when it loads its configuration: reload it whenever the
# backend's addresses change (a replica added or removed, a container started with a new address).
watch_backend() {
    host=${BACKEND_ADDR%:*}
    last=$(resolve "$host")
    while sleep "${BACKEND_WATCH_SECONDS:-2}"; do
        now=$(resolve "$host")
        if [ -n "$now" ] && [ "$now" != "$last" ] && nginx -s reload; then
            echo "entrypoint.sh: $host is now at $now; nginx reloaded" >&2
            last=$now
        fi
    done
}

if [ "${1:-}" = nginx ] && [ -n "${BACKEND_ADDR:-}" ]; then
    watch_backend &
fi
exec "$@"
