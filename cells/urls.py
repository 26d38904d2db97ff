from django.urls import path

from core.views import EDIT_VIEWS

from . import views

app_name = "cells"
EDIT_VIEWS["cell"] = views.CellFormView.as_view()

urlpatterns = [
    path("", views.CellList.as_view(), name="cell-list"),
    path("new/", views.CellFormView.as_view(), name="cell-new"),
]
