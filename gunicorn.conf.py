"""gunicorn's settings for the container (``gunicorn --config gunicorn.conf.py``).

Every value has an environment override, so the image is tuned by the task definition:

- ``GUNICORN_BIND`` (default ``0.0.0.0:$PORT``, ``PORT`` default 8080: the seed's port);
- ``GUNICORN_WORKERS`` (or ``WEB_CONCURRENCY``; default 2 x usable CPUs + 1),
  ``GUNICORN_THREADS`` (default 4 per worker);
- ``GUNICORN_TIMEOUT`` (30 s), ``GUNICORN_GRACEFUL_TIMEOUT`` (25 s: on SIGTERM, in-flight
  requests get this long to finish; keep it under ECS's stopTimeout of 30 s),
  ``GUNICORN_KEEPALIVE`` (75 s: longer than the ALB's 60 s idle timeout, so the ALB, never
  gunicorn, closes an idle connection and no request meets a half-closed one);
- ``FORWARDED_ALLOW_IPS`` (default ``*``: only the ALB can reach the task, by security group).
"""

import os


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def usable_cpus():
    # The CPUs this process may run on (a container's cpuset), not the host's count.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{env_int('PORT', 8080)}"
workers = env_int("GUNICORN_WORKERS", env_int("WEB_CONCURRENCY", 2 * usable_cpus() + 1))
worker_class = "gthread"  # keep-alive to the ALB; threads wait on the session store's I/O
threads = env_int("GUNICORN_THREADS", 4)

timeout = env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
keepalive = env_int("GUNICORN_KEEPALIVE", 75)

# The ALB terminates TLS and says so in X-Forwarded-Proto / X-Forwarded-For.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

accesslog = "-"  # stdout: the awslogs driver ships it to CloudWatch
errorlog = "-"  # stderr
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" fwd=%({x-forwarded-for}i)s'

# Worker heartbeats in memory, not on the container's (possibly slow) overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No gunicornc control socket: nobody attaches to a task, and several gunicorns on one host
# (the tests, the HA harness) must not share the default ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True
