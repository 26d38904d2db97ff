from django.urls import path

from . import views

app_name = "measurements"

urlpatterns = [
    path("", views.measurement_list, name="list"),
    path("new/", views.measurement_create, name="new"),
    path("raw/<str:sha256>/", views.raw_file_download, name="raw"),
    path("dashboard/running/", views.dashboard_running, name="dashboard-running"),
    path("series/<str:code>/points/", views.series_points, name="series-points"),
    path("series/<str:code>/status/", views.series_status, name="series-status"),
    path("measure-again/<str:code>/", views.measure_again, name="measure-again"),
    path("<str:code>/", views.measurement_detail, name="detail"),
    path("<str:code>/status/", views.measurement_status, name="status"),
    path("<str:code>/rerun/", views.measurement_rerun, name="rerun"),
    path("<str:code>/settings/", views.measurement_settings, name="settings"),
    path("<str:code>/files/", views.measurement_add_files, name="add-files"),
    path("<str:code>/mapping/", views.measurement_mapping, name="mapping"),
    path(
        "<str:code>/files/<int:link_id>/remove/", views.measurement_remove_file, name="remove-file"
    ),
]
