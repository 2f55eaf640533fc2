"""``manage.py sessions list|show|revoke``: the admin's session pages, from a shell.

    sessions list [--user ID] [--limit N]   live sessions (all, or one user's), at most N
    sessions show ID                         one session, its data decoded
    sessions revoke ID                       end one session
    sessions revoke --user ID                end all of one user's sessions
    sessions migrate [--from E] [--to E] [--batch N] [--cursor C]
                                             move every session from one engine to another

IDs are the sessions' non-secret ids (SHA-256 of the key); no output ever holds a raw key.
Whatever a session holds is printed escaped and bounded (``session_engines.display``).
"""

from django.core.management.base import BaseCommand, CommandError

from ... import migration
from ...backends import migrate
from ...devices import device
from ...display import safe_text, session_json
from ...exceptions import SessionStoreUnavailable
from ...operators import UserIndexUnavailable, get_operator
from ...policy import log
from ...users import user_names


def text(value, limit=200):
    """Return a stored value as printable text, "-" for none."""
    return "-" if value is None or value == "" else safe_text(value, limit)


def when(value):
    return value.isoformat() if value else "-"


ID_HELP = "a session id, as `sessions list` shows it (the SHA-256 of the key)"


class Command(BaseCommand):
    help = "List, show and revoke sessions, whatever the session engine."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="list live sessions")
        listing.add_argument("--user", help="only this user's sessions (needs a user index)")
        listing.add_argument("--limit", type=int, default=100, help="at most N (default 100)")
        show = actions.add_parser("show", help="show one session, data decoded")
        show.add_argument("id", help=ID_HELP)
        revoke = actions.add_parser("revoke", help="end one session, or a user's every session")
        target = revoke.add_mutually_exclusive_group(required=True)
        target.add_argument("id", nargs="?", help=ID_HELP)
        target.add_argument("--user", help="end all of this user's sessions")
        copy = actions.add_parser("migrate", help="move every session to another engine")
        copy.add_argument("--from", dest="source", help="default: SESSION_MIGRATE['FROM']")
        copy.add_argument("--to", dest="target", help="default: SESSION_MIGRATE['TO']")
        copy.add_argument("--batch", type=int, default=500, help="sessions per page (500)")
        copy.add_argument("--cursor", help="resume after the page that printed this cursor")

    def handle(self, *args, action, **options):
        try:
            if action == "migrate":
                return self.migrate(**options)
            getattr(self, action)(get_operator(), **options)
        except UserIndexUnavailable as exc:
            raise CommandError(str(exc)) from exc
        except SessionStoreUnavailable as exc:
            raise CommandError(f"The session store is unavailable: {exc}") from exc

    def list(self, operator, *, user=None, limit=100, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        records = operator.for_user(user)[:limit] if user else self.first(operator, limit)
        names = user_names(record.data for record in records)
        for record, name in zip(records, names, strict=True):
            found = device(record.data)
            fields = [record.id, text(record.user_id, 64), text(name, 64)]
            fields += [text(found["agent"], 64), text(found["address"], 64)]
            fields += [when(found["last_seen"]), when(record.expires), f"{record.size}B"]
            self.stdout.write("  ".join(fields))
        self.stdout.write(f"{len(records)} session(s).")

    def first(self, operator, limit):
        records, cursor = [], None
        while len(records) < limit:
            page = operator.list(cursor=cursor, limit=min(limit - len(records), 500))
            records += page.records
            cursor = page.cursor
            if cursor is None:
                break
        return records[:limit]

    def show(self, operator, *, id, **options):
        record = self.found(operator.get(id), id)
        self.stdout.write(f"ID       {record.id}")
        (name,) = user_names([record.data])
        found = device(record.data)
        self.stdout.write(f"User     {text(record.user_id)}")
        self.stdout.write(f"Name     {text(name)}")
        self.stdout.write(f"Device   {text(found['agent'], 64)}")
        self.stdout.write(f"Address  {text(found['address'], 64)}")
        self.stdout.write(f"Created  {when(found['created'])}")
        self.stdout.write(f"Login    {when(found['signed_in'])}")
        self.stdout.write(f"Seen     {when(found['last_seen'])}")
        self.stdout.write(f"Expires  {when(record.expires)}")
        self.stdout.write(f"Size     {record.size} bytes")
        self.stdout.write(session_json(record.data))

    def revoke(self, operator, *, id=None, user=None, **options):
        if user:
            ended = operator.delete_for_user(user)
            log("revoked", user=user, by="command", ended=ended)
            self.stdout.write(f"Ended {ended} session(s) of user {text(user)}.")
        else:
            self.found(operator.delete(id), id)
            log("revoked", id=id, by="command")
            self.stdout.write(f"Ended session {id}.")

    def migrate(self, *, source=None, target=None, batch=500, cursor=None, **options):
        source = source or migrate.options()["FROM"]
        target = target or migrate.options()["TO"]
        if not source or not target or batch < 1:
            raise CommandError("Give --from and --to (or SESSION_MIGRATE), and --batch >= 1.")

        def progress(summary):
            self.stdout.write(f"page {summary.pages}: {summary}; cursor {summary.cursor or '-'}")

        self.stdout.write(f"Moving sessions from {source} to {target}.")
        try:
            summary = migration.copy_sessions(
                source=source, target=target, cursor=cursor, batch=batch, progress=progress
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Done: {summary}.")
        if summary.failed:
            raise CommandError(f"{summary.failed} session(s) failed: run the copy again.")

    def found(self, result, id):
        if not result:
            raise CommandError(f"No live session with id {text(id, 100)}.")
        return result
