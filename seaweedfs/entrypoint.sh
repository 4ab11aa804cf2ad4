#!/bin/sh
# Starts SeaweedFS as one S3 server (`weed mini`: master, volume, filer and S3 gateway in one
# process) whose only login is AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, creating S3_BUCKET when
# missing; refuses to start without them, since SeaweedFS without a login accepts anyone.
set -eu
for name in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_BUCKET; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
        echo "seaweedfs: set $name in .env (see docs/scaling.md)" >&2
        exit 1
    fi
    # The values go into a JSON file below: refuse anything that would need escaping.
    case "$value" in
        *[!A-Za-z0-9._+=/-]*) echo "seaweedfs: $name may only hold A-Z a-z 0-9 . _ + = / -" >&2; exit 1 ;;
    esac
done

umask 077
cat > /tmp/s3.json <<JSON
{"identities": [{"name": "anon-hosting",
                 "credentials": [{"accessKey": "$AWS_ACCESS_KEY_ID", "secretKey": "$AWS_SECRET_ACCESS_KEY"}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
exec weed mini -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 -s3.port=8333 -s3.config=/tmp/s3.json \
    -bucket="$S3_BUCKET" -master.telemetry=false -admin.ui=false -webdav=false "$@"
