"""``manage.py createsessiontable [--check]``: the DynamoDB sessions table.

Idempotent: creates the on-demand table with its key schema and user index, waits until it is
ACTIVE, enables TTL on the expiry attribute, and says what it did. ``--check`` changes nothing
and exits non-zero when something is off.
"""

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from session_engines import dynamodb_table
from session_engines.backends import dynamodb


class Command(BaseCommand):
    help = "Create (or check, with --check) the DynamoDB sessions table."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Only verify schema, index and TTL; exit 1 if off."
        )
        parser.add_argument(
            "--delay", type=float, default=2.0, help="Seconds between status polls (default 2)."
        )

    def handle(self, *, check, delay, **options):
        name = dynamodb.table_name()
        client = dynamodb.get_client()
        try:
            if check:
                problems = dynamodb_table.problems(client, name)
                if problems:
                    raise CommandError(f"table {name} is not ready: " + "; ".join(problems))
                self.stdout.write(f"table {name} is ready: key, index {dynamodb.USER_INDEX}, TTL")
                return
            done = dynamodb_table.ensure_table(client, name, delay=delay)
        except dynamodb_table.TableError as exc:
            raise CommandError(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"DynamoDB refused or could not be reached: {exc}") from exc
        for line in done or [f"table {name} was already ready; nothing to do"]:
            self.stdout.write(line)
