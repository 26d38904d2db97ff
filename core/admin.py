from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError

from . import permissions, projects, users
from .audit import record_event
from .models import (
    AuditEvent,
    CodeCounter,
    Item,
    Job,
    LineageEdge,
    Membership,
    ProcessStep,
    Project,
    Signature,
)
from .selectors import is_ancestor
from .services import allocate_code, link
from .signatures import row_locking_signature


class LockAwareAdmin:
    """A signed record, and what its signature covers, is read-only in the admin and cannot
    be deleted there (the model guard refuses it anyway; this says so before a save)."""

    def _locked(self, obj) -> bool:
        return obj is not None and row_locking_signature(obj)[0] is not None

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._locked(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._locked(obj)

    def has_add_permission(self, request, *args):
        obj = args[0] if args else None  # an inline gets its parent
        return super().has_add_permission(request, *args) and not self._locked(obj)


class AuditedDeleteAdmin:
    """For models the signals do not audit (computed results): a delete in the admin is
    recorded, one event per row deleted."""

    def _audit_delete(self, obj) -> None:
        record_event(
            "delete",
            model=obj._meta.label_lower,
            object_pk=str(obj.pk),
            object_repr=str(obj),
            before={
                "admin": True,
                **{f.attname: str(f.value_from_object(obj)) for f in obj._meta.concrete_fields},
            },
        )

    def delete_model(self, request, obj):
        self._audit_delete(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit_delete(obj)
        super().delete_queryset(request, queryset)


class ProcessStepInline(LockAwareAdmin, admin.TabularInline):
    model = ProcessStep
    extra = 0


class ParentEdgeInline(LockAwareAdmin, admin.TabularInline):
    model = LineageEdge
    fk_name = "child"
    extra = 0
    raw_id_fields = ("parent",)
    verbose_name_plural = "made from"


class ItemAdmin(LockAwareAdmin, admin.ModelAdmin):
    """Base admin for every kind of item; codes are allocated by the services, not typed."""

    list_display = ("code", "project", "created_at", "created_by")
    list_filter = ("project",)
    search_fields = ("code", "notes")
    readonly_fields = ("code", "kind", "project", "created_at", "updated_at", "created_by")
    inlines = [ProcessStepInline, ParentEdgeInline]
    list_per_page = 50

    def save_model(self, request, obj, form, change):
        if not change:
            obj.kind = obj.KIND
            obj.created_by = request.user
            try:  # the admin's only project where they record; else the default one
                obj.project = permissions.project_for_new_item(request.user, None)
            except (ValidationError, PermissionDenied):
                obj.project = permissions.default_project()
            obj.code = allocate_code(obj.CODE_PREFIX)
        super().save_model(request, obj, form, change)


@admin.register(Item)
class AnyItemAdmin(LockAwareAdmin, admin.ModelAdmin):
    list_display = ("code", "kind", "created_at", "created_by")
    list_filter = ("kind",)
    search_fields = ("code",)
    readonly_fields = ("code", "kind", "created_at", "updated_at", "created_by")
    inlines = [ParentEdgeInline]

    def has_add_permission(self, request):
        return False  # items are added as a concrete kind


class LineageEdgeForm(forms.ModelForm):
    class Meta:
        model = LineageEdge
        fields = ["parent", "child", "role", "amount", "amount_unit"]

    def clean(self):
        data = super().clean()
        parent, child = data.get("parent"), data.get("child")
        if parent and child and parent != child and is_ancestor(child.pk, parent.pk):
            raise forms.ValidationError(
                f"{parent.code} descends from {child.code}: this link would make a cycle."
            )
        return data


@admin.register(LineageEdge)
class LineageEdgeAdmin(LockAwareAdmin, admin.ModelAdmin):
    form = LineageEdgeForm
    list_display = ("parent", "child", "role", "amount", "amount_unit")
    list_filter = ("role",)
    search_fields = ("parent__code", "child__code")
    raw_id_fields = ("parent", "child")

    def save_model(self, request, obj, form, change):
        # Through the service too: it re-checks under the graph lock.
        link(obj.parent, obj.child, role=obj.role, amount=obj.amount, amount_unit=obj.amount_unit)


@admin.register(ProcessStep)
class ProcessStepAdmin(LockAwareAdmin, admin.ModelAdmin):
    list_display = ("item", "position", "kind", "temperature_c", "duration_min")
    list_filter = ("kind",)
    search_fields = ("item__code",)
    raw_id_fields = ("item",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "who", "action", "model", "object_repr")
    list_filter = ("action", "model")
    search_fields = ("object_repr", "object_pk", "username")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CodeCounter)
class CodeCounterAdmin(admin.ModelAdmin):
    list_display = ("prefix", "last_number")
    readonly_fields = ("prefix", "last_number")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """The outbox: queued work not yet finished, and failed jobs with their error. Read-only;
    deleting a row is allowed (the reconciler's backstop queues its record again)."""

    list_display = ("id", "task", "args", "created_at", "sent_at", "started_at", "attempts")
    list_filter = ("task",)
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Signature)
class SignatureAdmin(admin.ModelAdmin):
    """Signatures are made on the record's page or through the API (password re-entered), and
    never changed or deleted."""

    list_display = ("item", "meaning", "signer_username", "signed_at", "sha256")
    list_filter = ("meaning",)
    search_fields = ("item__code", "signer_username", "sha256")
    readonly_fields = [f.name for f in Signature._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Projects and their members (managers also manage members on the project's page)."""

    list_display = ("code", "name", "created_at")
    search_fields = ("code", "name")
    inlines = [MembershipInline]


# Importing django.contrib.auth.admin registered its UserAdmin; this one replaces it.
admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AccountAdmin(UserAdmin):
    """Accounts with history are deactivated, never deleted (core.users): the delete pages say
    what the account recorded instead of listing every record that keeps it."""

    list_display = (*UserAdmin.list_display, "is_active")
    actions = ["deactivate_selected"]

    def get_deleted_objects(self, objs, request):
        # Django would list each protected record (thousands for an active chemist) and the
        # page would then refuse anyway; one line per account says why, and what to do.
        refusals = [text for text in map(users.deletion_refusal, objs) if text]
        if refusals:
            return [], {}, set(), refusals
        return super().get_deleted_objects(objs, request)

    @admin.action(description="Deactivate selected accounts", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        done = []
        for user in queryset.order_by("username"):
            try:
                if users.deactivate_user(user, by=request.user):
                    done.append(user)
            except ValidationError as refused:
                self.message_user(request, " ".join(refused.messages), messages.ERROR)
        if done:
            names = ", ".join(u.get_username() for u in done)
            self.message_user(
                request,
                f"Deactivated {names}: no login or API token works for them any more; their "
                "records keep their names.",
                messages.SUCCESS,
            )
        for user in done:
            alone = projects.managed_only_by(user)
            if alone:
                codes = ", ".join(p.code for p in alone)
                self.message_user(
                    request,
                    f"{codes} now has no active manager ({user} was the last): make another "
                    "member its manager (Projects).",
                    messages.WARNING,
                )
