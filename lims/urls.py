from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from core import views, views_explore, views_labels, views_projects, views_tokens
from measurements import views as measurement_views

from . import health, metrics_view, views_eln


@login_not_required
def favicon(request):
    """Browsers and bookmarking tools ask for /favicon.ico whatever the page links: send them
    to the SVG icon (static/lims/favicon.svg) instead of a 404 in the log. Not permanent, so a
    renamed static file is followed."""
    return redirect(static("lims/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics_view, name="metrics"),
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("items/<str:code>/", views.item_detail, name="item-detail"),
    path("items/<str:code>/edit/", views.item_edit, name="item-edit"),
    path("items/<str:code>/sign/", views.item_sign, name="item-sign"),
    path("labels/", views_labels.labels_page, name="labels"),
    path("export.eln", views_eln.export_selection, name="export-eln"),
    path("import/", views_eln.import_page, name="import-eln"),
    path("projects/", views_projects.project_list, name="projects"),
    path("projects/new/", views_projects.project_new, name="project-new"),
    path("projects/<str:code>/", views_projects.project_detail, name="project-detail"),
    path("projects/<str:code>/members/", views_projects.project_members, name="project-members"),
    path("projects/<str:code>/export/", views_eln.project_export_start, name="project-export"),
    path("projects/<str:code>/exports/", views_eln.project_exports, name="project-exports"),
    path(
        "projects/<str:code>/exports/<int:export_id>/download/",
        views_eln.project_export_download,
        name="project-export-download",
    ),
    path("synthesis/", include("synthesis.urls")),
    path("cells/", include("cells.urls")),
    path("measurements/", include("measurements.urls")),
    path("compare/", measurement_views.compare, name="compare"),
    path("explore/", views_explore.explore, name="explore"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("lims.api.urls")),
    path("account/token/", views_tokens.token_page, name="account-token"),
]

# Styled error pages (templates 400/403/404/500.html); 404 and 500 use Django's own views.
handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
