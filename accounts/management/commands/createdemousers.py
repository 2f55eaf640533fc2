"""``manage.py createdemousers``: the demo's users, alice and bob, for POST /auth/login.

Idempotent. Passwords come from DEMO_USERS_PASSWORD (one for both, checked by
AUTH_PASSWORD_VALIDATORS; a user whose password differs gets it); without it, a user that does
not exist yet gets a random password, printed once, and an existing user is left as it is.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEMO_USERS = {"alice": ("Alice", "Kim"), "bob": ("Bob", "Lee")}
PASSWORD_VARIABLE = "DEMO_USERS_PASSWORD"


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args, **options):
        password = os.environ.get(PASSWORD_VARIABLE) or None
        with transaction.atomic():  # all of them, or none when a password is refused
            for username, (first, last) in DEMO_USERS.items():
                self.stdout.write(ensure_user(username, first, last, password))


def ensure_user(username, first, last, password):
    """Create or update one demo user; return what happened, as one line."""
    model = get_user_model()
    user, created = model.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    if password is None and not created:
        return f"{username}: exists, unchanged"
    if password is not None and not created and user.check_password(password):
        return f"{username}: exists, password as {PASSWORD_VARIABLE}"
    chosen = password or secrets.token_urlsafe(12)
    try:
        validate_password(chosen, user)
    except ValidationError as exc:
        raise CommandError(f"{PASSWORD_VARIABLE}: {' '.join(exc.messages)}") from None
    user.set_password(chosen)
    user.save(update_fields=["password"])
    if password is None:
        return f"{username}: created, password {chosen} (shown once)"
    return f"{username}: {'created' if created else 'updated'}, password from {PASSWORD_VARIABLE}"
