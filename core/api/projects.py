"""`/api/projects/`: the projects you see, and, for their managers, their members. The writes
are `core.projects`' services (the project pages call the same)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response

from core import permissions, projects
from core.models import Membership, Project, ProjectRole

from .base import ApiMixin, service_call
from .serializers import ChoiceField, ModelSerializer, Serializer


class MembershipSerializer(ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role"]


class ProjectSerializer(ModelSerializer):
    # Checked by core.projects.clean_code (the page's words, not the model's slug, length and
    # unique messages).
    code = serializers.CharField(help_text=projects.CODE_RULE)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["code", "name", "description", "created_at", "my_role"]
        read_only_fields = ["created_at"]

    def get_my_role(self, project) -> str | None:
        request = self.context.get("request")
        return permissions.role(request.user, project) if request else None


class ProjectUpdateSerializer(ProjectSerializer):
    code = serializers.CharField(read_only=True)  # declared fields ignore read_only_fields

    class Meta(ProjectSerializer.Meta):
        read_only_fields = ["code", "created_at"]


class MemberWriteSerializer(Serializer):
    user = serializers.CharField(max_length=150, help_text="user name")
    role = ChoiceField(choices=ProjectRole.choices)


class MemberRemoveSerializer(Serializer):
    user = serializers.CharField(max_length=150, help_text="user name")


class ProjectViewSet(
    ApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects you are a member of, with your role. Creating one needs the `add_project`
    permission (you become its manager); a manager changes its name and description and its
    members (`members/`)."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9_-]+"
    filter_backends: list = []
    ordering = ["code"]
    # Anyone logged in lists (their own); the services decide who writes.
    permission_classes = [IsAuthenticated]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ProjectUpdateSerializer
        if self.action == "members":
            return MemberWriteSerializer
        return ProjectSerializer

    def get_object(self):
        project = projects.project_by_code(self.request.user, self.kwargs["code"])
        if self.request.method not in SAFE_METHODS:  # before the body is read: 403, not 400
            permissions.check_manage(self.request.user, project)
        return project

    def perform_create(self, serializer):
        with service_call(self.request.user):
            serializer.instance = projects.project_create(
                user=self.request.user, **serializer.validated_data
            )

    def perform_update(self, serializer):
        with service_call(self.request.user):
            serializer.instance = projects.project_update(
                serializer.instance, by=self.request.user, fields=dict(serializer.validated_data)
            )

    @extend_schema(methods=["GET"], request=None, responses={200: MembershipSerializer(many=True)})
    @extend_schema(
        methods=["POST"],
        request=MemberWriteSerializer,
        responses={
            200: MembershipSerializer(many=True),
            403: OpenApiResponse(description="you are not a manager of this project"),
        },
    )
    @extend_schema(
        methods=["DELETE"],
        request=MemberRemoveSerializer,
        responses={
            200: MembershipSerializer(many=True),
            403: OpenApiResponse(description="you are not a manager of this project"),
        },
    )
    @action(detail=True, methods=["get", "post", "delete"], pagination_class=None)
    def members(self, request, code=None):
        """The members with their roles. POST `{"user", "role"}` adds a member or changes
        their role, DELETE `{"user"}` removes one (a project keeps at least one manager):
        managers only; each answers the members as they now are."""
        project = self.get_object()
        if request.method == "POST":
            body = MemberWriteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            with service_call(request.user):
                projects.membership_set(
                    project,
                    by=request.user,
                    username=body.validated_data["user"],
                    role=body.validated_data["role"],
                )
        elif request.method == "DELETE":
            body = MemberRemoveSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            with service_call(request.user):
                projects.membership_remove(
                    project, by=request.user, username=body.validated_data["user"]
                )
        rows = projects.members(project)
        return Response(MembershipSerializer(rows, many=True).data, status=status.HTTP_200_OK)
