"""Simulated users: each logs in, then reads its session through the load balancer.

Every user is a thread with its own ``requests.Session`` (its own cookie jar, so the
``sessionid`` and the ``AWSALB`` cookies travel like a browser's). A fault (kill an instance,
a rolling restart) runs while they read; users keep reading until it is over, so every user
reads both before and after it. Everything is bounded: reads per user and a deadline.
"""

import math
import random
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests

LOGIN_ATTEMPTS = 3
READS_AFTER_FAULT = 2
TIMEOUT = 10.0


@dataclass
class Hit:
    kind: str  # "login" or "read"
    status: int  # 0: no answer at all
    served_by: str | None
    user_id: str | None  # the userId the answer carried
    started: float  # time.monotonic()
    seconds: float
    after_fault: bool

    def overlaps(self, window):
        return (
            window is not None
            and self.started <= window[1]
            and self.started + self.seconds >= window[0]
        )


@dataclass
class User:
    user_id: str
    hits: list = field(default_factory=list)

    @property
    def logins(self):
        return [hit for hit in self.hits if hit.kind == "login" and hit.status == 200]

    @property
    def login_instance(self):
        """Where the session was created (the instance a sticky LB pins the user to)."""
        return self.logins[-1].served_by if self.logins else None

    @property
    def reads(self):
        return [hit for hit in self.hits if hit.kind == "read"]

    @property
    def lost(self):
        """A read that was answered (200) without this user's UserInfo: logged out."""
        return any(hit.status == 200 and hit.user_id != self.user_id for hit in self.reads)

    @property
    def kept(self):
        return bool(self.logins) and not self.lost


@dataclass
class Run:
    users: list
    fault_window: tuple | None = None  # (start, end), time.monotonic()

    @property
    def hits(self):
        return [hit for user in self.users for hit in user.hits]

    @property
    def errors(self):
        """5xx answers, and requests that got no answer at all."""
        return [hit for hit in self.hits if hit.status >= 500 or hit.status == 0]

    @property
    def in_flight_during_fault(self):
        """The requests under way while the fault happened (for a kill: at that instant)."""
        return [hit for hit in self.hits if hit.overlaps(self.fault_window)]

    def summary(self):
        seconds = sorted(hit.seconds for hit in self.hits)
        kept = sum(user.kept for user in self.users)
        return {
            "users": len(self.users),
            "kept_pct": round(100 * kept / len(self.users), 1),
            "requests": len(seconds),
            "errors_5xx": len(self.errors),
            "p50_ms": round(1000 * percentile(seconds, 0.50), 1),
            "p99_ms": round(1000 * percentile(seconds, 0.99), 1),
        }


def percentile(ordered, fraction):
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Load:
    """The shared state of one run: counters, the fault's start and end."""

    def __init__(self, *, users, reads, fault, progress, deadline):
        self.users = users
        self.reads = reads
        self.progress = progress
        self.deadline = deadline
        self.fault = fault
        self.fault_done = threading.Event()
        if fault is None:
            self.fault_done.set()
        self.changed = threading.Condition()
        self.reads_done = 0
        self.finished = 0

    def request(self, user, session, kind, method, url, **kwargs):
        after_fault = self.fault_done.is_set()
        started = time.monotonic()
        try:
            response = session.request(method, url, timeout=TIMEOUT, **kwargs)
            status, served_by = response.status_code, response.headers.get("X-Served-By")
            user_id = response.json().get("userId") if status == 200 else None
        except requests.RequestException:
            status, served_by, user_id = 0, None, None
        seconds = time.monotonic() - started
        hit = Hit(kind, status, served_by, user_id, started, seconds, after_fault)
        user.hits.append(hit)
        with self.changed:
            self.reads_done += kind == "read"
            self.changed.notify_all()
        if self.progress:
            self.progress(min(self.reads_done, self.users * self.reads), self.users * self.reads)
        return hit

    def simulate(self, user, base_url, think):
        try:
            with requests.Session() as session:
                if self.log_in(user, session, base_url):
                    self.read(user, session, base_url, think)
        finally:
            with self.changed:
                self.finished += 1
                self.changed.notify_all()

    def log_in(self, user, session, base_url):
        """POST /login, retried (as a person would) when the answer is an error."""
        body = {"userId": user.user_id, "userNm": f"User {user.user_id}"}
        for _ in range(LOGIN_ATTEMPTS):
            hit = self.request(user, session, "login", "POST", f"{base_url}/login", json=body)
            if hit.status == 200:
                return True
            time.sleep(0.2)
        return False

    def read(self, user, session, base_url, think):
        """GET /session M times, and on until the fault is over and read past."""
        while time.monotonic() < self.deadline:
            after = sum(hit.after_fault for hit in user.reads)
            if self.fault_done.is_set() and len(user.reads) >= self.reads:
                if after >= READS_AFTER_FAULT:
                    return
            self.request(user, session, "read", "GET", f"{base_url}/session")
            time.sleep(random.uniform(0, 2 * think))

    def run_fault(self, run):
        """Once a third of the reads are done, inject the fault while the users keep reading."""
        with self.changed:
            self.changed.wait_for(
                lambda: (
                    self.reads_done >= self.users * self.reads // 3
                    or self.finished == self.users
                    or time.monotonic() > self.deadline
                ),
                timeout=max(0.0, self.deadline - time.monotonic()),
            )
        started = time.monotonic()
        try:
            self.fault()
        finally:
            run.fault_window = (started, time.monotonic())
            self.fault_done.set()


def run_users(
    base_url, *, users=10, reads=20, fault=None, think=0.02, timeout=120.0, progress=None
):
    """K users, M reads each, through ``base_url``; ``fault()`` runs a third of the way in."""
    token = secrets.token_hex(3)
    population = [User(f"user{index}-{token}") for index in range(users)]
    load = Load(
        users=users,
        reads=reads,
        fault=fault,
        progress=progress,
        deadline=time.monotonic() + timeout,
    )
    run = Run(population)
    threads = [
        threading.Thread(target=load.simulate, args=(user, base_url, think), daemon=True)
        for user in population
    ]
    for thread in threads:
        thread.start()
    if fault is not None:
        load.run_fault(run)
    for thread in threads:
        thread.join()
    return run
