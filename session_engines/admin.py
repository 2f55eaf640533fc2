"""Sessions in the Django admin, for whichever engine SESSION_ENGINE selects.

``SessionAdmin`` is registered on ``session_engines.models.Session`` for that model's
permissions and its place on the index: ``view_session`` lists and reads sessions,
``delete_session`` ends them. Its pages do not query the model: they go through
``get_operator()``, so they show the sessions of whichever engine is configured (db, cache,
redis, dynamodb, Django's db and cache engines) and answer 404 for an engine without an
operator. Sessions are never added or changed here, and only their ids (the SHA-256 of the key)
are shown, never a key. On a custom site: ``my_site.register(Session, SessionAdmin)``.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, re_path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from .devices import device
from .display import safe_text, session_json
from .models import Session
from .operators import UserIndexUnavailable, get_operator, has_operator
from .policy import log
from .users import user_names

NO_INDEX = "This session engine cannot index sessions by user"
SESSION_ID = r"(?P<object_id>[0-9a-f]{64})"
require_POST_m = method_decorator(require_POST)


class SessionAdmin(admin.ModelAdmin):
    list_per_page = 50
    change_list_template = "session_engines/admin/session_list.html"
    change_form_template = "session_engines/admin/session_detail.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return has_operator() and super().has_module_permission(request)

    def get_urls(self):
        """Return the list, detail, delete and "log out everywhere" pages (no add, no change)."""
        view = self.admin_site.admin_view  # active staff only, CSRF-protected, never cached
        return [
            path("", view(self.changelist_view), name=self.url_name("changelist")),
            path(
                "logout-everywhere/",
                view(self.logout_everywhere_view),
                name=self.url_name("logout_everywhere"),
            ),
            re_path(rf"^{SESSION_ID}/$", view(self.change_view), name=self.url_name("change")),
            re_path(
                rf"^{SESSION_ID}/delete/$", view(self.delete_view), name=self.url_name("delete")
            ),
        ]

    def url_name(self, page):
        """Return the URL name of one of these pages, as Django names the admin's."""
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def operator(self, request, allowed):
        """Return the engine's operator: 403 unless ``allowed``, 404 when there is none."""
        if not allowed:
            raise PermissionDenied
        if not has_operator():
            raise Http404(f"No session operator for {settings.SESSION_ENGINE!r}.")
        request.current_app = self.admin_site.name
        return get_operator()

    def changelist_url(self, **query):
        url = reverse(f"admin:{self.url_name('changelist')}", current_app=self.admin_site.name)
        return f"{url}?{urlencode(query)}" if query else url

    def render(self, request, template, title, extra_context, **context):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "has_delete_permission": self.has_delete_permission(request),
            **context,
            **(extra_context or {}),
        }
        return TemplateResponse(request, template, context)

    def rows(self, records):
        names = user_names(record.data for record in records)
        return [self.row(record, name) for record, name in zip(records, names, strict=True)]

    def row(self, record, name):
        """Return what the pages show of one session: any stored text escaped and bounded."""
        found = device(record.data)
        return {
            "id": record.id,
            "user_id": None if record.user_id is None else safe_text(record.user_id),
            "user_name": None if name is None else safe_text(name),
            "expires": record.expires,
            "size": record.size,
            **found,
            "agent": None if found["agent"] is None else safe_text(found["agent"], 64),
            "address": None if found["address"] is None else safe_text(found["address"], 64),
        }

    def changelist_view(self, request, extra_context=None):
        operator = self.operator(request, self.has_view_permission(request))
        user_id = request.GET.get("user", "").strip()
        next_url, index_error = None, None
        if user_id:
            try:
                records = operator.for_user(user_id)
            except UserIndexUnavailable as exc:
                records, index_error = [], str(exc)
        else:
            cursor = request.GET.get("cursor") or None
            try:
                page = operator.list(cursor=cursor, limit=self.list_per_page)
            except ValueError:
                return HttpResponseBadRequest("Not a page cursor.")
            records = page.records
            if page.cursor:
                next_url = "?" + urlencode({"cursor": page.cursor})
        return self.render(
            request,
            self.change_list_template,
            "Sessions",
            extra_context,
            rows=self.rows(records),
            user_id=user_id,
            next_url=next_url,
            supports_user_index=operator.supports_user_index,
            index_error=index_error,
            no_index=NO_INDEX,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = self.operator(request, self.has_view_permission(request)).get(object_id)
        if record is None:
            raise Http404("No such session.")
        data = session_json(record.data)
        (session,) = self.rows([record])
        title = f"Session {object_id[:12]}…"
        return self.render(
            request, self.change_form_template, title, extra_context, session=session, data=data
        )

    @require_POST_m
    def delete_view(self, request, object_id, extra_context=None):
        operator = self.operator(request, self.has_delete_permission(request))
        if operator.delete(object_id):
            log("revoked", id=object_id, user=None, by=f"admin:{request.user.get_username()}")
            self.message_user(request, f"Session {object_id[:12]}… ended.", messages.SUCCESS)
        else:
            message = f"Session {object_id[:12]}… was already gone."
            self.message_user(request, message, messages.WARNING)
        return HttpResponseRedirect(self.changelist_url())

    @require_POST_m
    def logout_everywhere_view(self, request):
        operator = self.operator(request, self.has_delete_permission(request))
        user_id = request.POST.get("user", "").strip()
        if not user_id:
            self.message_user(request, "Give the user id to log out everywhere.", messages.ERROR)
            return HttpResponseRedirect(self.changelist_url())
        try:
            ended = operator.delete_for_user(user_id)
        except UserIndexUnavailable as exc:
            self.message_user(request, f"{NO_INDEX}: {exc}", messages.ERROR)
        else:
            by = f"admin:{request.user.get_username()}"
            log("revoked", user=user_id, by=by, ended=ended)
            message = f"Logged {safe_text(user_id)} out everywhere: {ended} session(s) ended."
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self.changelist_url(user=user_id))


admin.site.register(Session, SessionAdmin)
