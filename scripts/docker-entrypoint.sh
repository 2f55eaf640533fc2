#!/bin/sh
# The image's entry point: apply migrations (each task's own SQLite file unless DATABASE_URL
# names a shared database; DJANGO_MIGRATE=0 skips it), then exec the command, so gunicorn
# replaces this shell as PID 1 and receives ECS's SIGTERM itself.
set -eu
if [ "${DJANGO_MIGRATE:-1}" = "1" ]; then
    python manage.py migrate --noinput
fi
exec "$@"
