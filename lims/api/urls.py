"""The API's URLs: one router that every app with an API registers its viewsets into.

Composition layer: this is the one place that names every app's API. An app lists its
endpoints as `ROUTES = [(prefix, viewset), ...]` in `<app>/api/views.py` and is named in
API_APPS below; paths that are not viewsets go in an optional `URLS` list in the same module.
Record viewsets are also registered with the core (`register_record_viewset`), whose generic
endpoints (`/api/items/`, lineage tables) serve every kind through them.
"""

from __future__ import annotations

from importlib import import_module

from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import DefaultRouter

from core import csp
from core.api import views
from core.api.base import RecordViewSet, register_record_viewset
from core.api.projects import ProjectViewSet

from . import eln

API_APPS = ["synthesis.api.views", "cells.api.views", "measurements.api.views"]


class Router(DefaultRouter):
    """DefaultRouter whose root (`/api/`) also links the endpoints that are not viewsets."""

    extra_root_links = {
        "lineage-table": "lineage-table",
        "export": "export-eln",
        "import": "import-eln",
        "tokens": "tokens",
        "schema": "schema",
        "docs": "docs",
    }

    def get_api_root_view(self, api_urls=None):
        list_name = self.routes[0].name
        links = {
            prefix: list_name.format(basename=basename) for prefix, _, basename in self.registry
        }
        return self.APIRootView.as_view(api_root_dict={**links, **self.extra_root_links})


router = Router()
router.register("items", views.ItemViewSet, basename="item")
router.register("projects", ProjectViewSet, basename="project")
# Paths an app serves beside its viewsets (`URLS` in its api module, e.g. an item's
# temperature series), placed before the router's.
app_urls = []
for module_name in API_APPS:
    module = import_module(module_name)
    for prefix, viewset in module.ROUTES:
        router.register(prefix, viewset)
        if issubclass(viewset, RecordViewSet):
            register_record_viewset(viewset)
    app_urls.extend(getattr(module, "URLS", []))

# Namespaced: DRF's route names ("item-detail") must not shadow the web pages' names.
app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (`?script=`),
    # so the page needs no inline script under the Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Redoc's sidebar always shows Redocly's logo from their CDN (an image: it runs nothing);
    # allowed on this page only, so the page loads without a policy violation.
    path(
        "redoc/",
        csp.allow(
            SpectacularRedocView.as_view(url_name="api:schema"), img_src=["https://cdn.redoc.ly"]
        ),
        name="redoc",
    ),
    path("tokens/", views.TokenView.as_view(), name="tokens"),
    path("lineage-table/", views.LineageTableView.as_view(), name="lineage-table"),
    path("items/<str:code>/export.eln", eln.ElnExportView.as_view(), name="item-export-eln"),
    path("items/<str:code>/battinfo.jsonld", eln.BattinfoView.as_view(), name="item-battinfo"),
    path("export.eln", eln.SelectionExportView.as_view(), name="export-eln"),
    path(
        "projects/<str:code>/export.eln",
        eln.ProjectExportView.as_view(),
        name="project-export-eln",
    ),
    path(
        "projects/<str:code>/exports/",
        eln.ProjectExportsView.as_view(),
        name="project-exports",
    ),
    path(
        "projects/<str:code>/exports/<int:export_id>/",
        eln.ProjectExportStatusView.as_view(),
        name="project-export",
    ),
    path(
        "projects/<str:code>/exports/<int:export_id>/download/",
        eln.ProjectExportDownloadView.as_view(),
        name="project-export-download",
    ),
    path("import/", eln.ElnImportView.as_view(), name="import-eln"),
    *app_urls,
    path("", include(router.urls)),
    # Last: other URLs ending in a slash (without one, APPEND_SLASH still redirects).
    re_path(r"^.*/$", views.UnknownEndpoint.as_view()),
]
