"""A throwaway PostgreSQL cluster (initdb + postgres) on a free loopback port, in a temp dir.

Never the machine's own PostgreSQL: the cluster lives and dies with the context manager.
initdb refuses to run as root, so as root the server runs as the ``postgres`` system user
(created by Debian's package), dropped to with setpriv.
"""

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from .servers import free_port, server

PACKAGE_HINT = "sudo apt-get install -y postgresql"


def bindir():
    """The newest /usr/lib/postgresql/<version>/bin (Debian keeps the binaries off PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    raise RuntimeError(f"PostgreSQL is not installed; run: {PACKAGE_HINT}")


def unprivileged(workdir):
    """The command prefix that drops root to the postgres user, and hands it ``workdir``."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    os.chown(workdir, user.pw_uid, user.pw_gid)
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]


@contextlib.contextmanager
def postgres_server(port=None):
    """Yields a DATABASE_URL for the ``postgres`` database of a fresh cluster."""
    with postgres_process(port=port) as (_, url):
        yield url


@contextlib.contextmanager
def postgres_process(*extra_args, port=None):
    """``postgres_server``, yielding (its Server, which can be restarted, the DATABASE_URL);
    ``extra_args`` go to ``postgres`` last (``-c synchronous_commit=on``: a crash keeps every
    commit that was answered)."""
    port = port or free_port()
    binaries = bindir()
    with tempfile.TemporaryDirectory(prefix="postgres-") as workdir:
        as_postgres = unprivileged(workdir)
        data = Path(workdir) / "data"
        log = Path(workdir) / "postgres.log"
        with open(log, "ab") as out:
            subprocess.run(
                [
                    *as_postgres,
                    binaries / "initdb",
                    "-D",
                    data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        args = [
            *as_postgres,
            binaries / "postgres",
            "-D",
            data,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            workdir,
            # A throwaway cluster: durability is not what is measured.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            *extra_args,
        ]
        with server(args, port=port, log=log) as started:
            yield started, f"postgres://postgres@127.0.0.1:{port}/postgres"
