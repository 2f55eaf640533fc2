# syntax=docker/dockerfile:1
# The app image: gunicorn on port 8080 (the seed maps 80 -> 8080; in AWS the ALB sends to 8080).
#   docker build -t sessiondemo .
#   docker run -p 80:8080 -e DJANGO_SECRET_KEY=... -e DJANGO_ALLOWED_HOSTS=localhost sessiondemo
# Pin PYTHON_IMAGE by digest (python:3.11-slim-bookworm@sha256:...) for reproducible builds.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the pinned requirements, and the collected static files -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
WORKDIR /app
COPY . .
# Settings refuse to start without DJANGO_SECRET_KEY when DEBUG is off. This throwaway value
# exists only for this one step; it is never in the image's environment or used to sign.
RUN DJANGO_SECRET_KEY=build-time-collectstatic-only DJANGO_DEBUG=0 \
    python manage.py collectstatic --noinput

# --- runtime: the same base, the venv and the app, run as an unprivileged user ---------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=sessiondemo.settings.db \
    DATABASE_URL=sqlite:////app/data/db.sqlite3 \
    PORT=8080
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code and static files stay root-owned (read-only to the app); only data/ is writable.
COPY --from=build /app /app
RUN mkdir /app/data && chown app:app /app/data
USER 10001:10001
EXPOSE 8080
# python, since slim has no curl; urlopen raises (exit 1) on anything but a 2xx.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "sessiondemo.wsgi:application"]
