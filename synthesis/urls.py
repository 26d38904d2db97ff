from django.urls import path

from core.views import EDIT_VIEWS

from . import views

app_name = "synthesis"
EDIT_VIEWS.update(views.EDIT_VIEWS)

urlpatterns = [
    path("reagents/", views.ReagentLotList.as_view(), name="reagent-list"),
    path("reagents/new/", views.ReagentLotFormView.as_view(), name="reagent-new"),
    path("chemicals/new/", views.chemical_create, name="chemical-new"),
    path("batches/", views.LagpBatchList.as_view(), name="batch-list"),
    path("batches/new/", views.LagpBatchFormView.as_view(), name="batch-new"),
    path("batches/calculator/", views.precursor_calculator, name="calculator"),
    path("pellets/", views.PelletList.as_view(), name="pellet-list"),
    path("pellet-sets/new/", views.PelletSetCreateView.as_view(), name="pellet-set-new"),
    path("pellet-sets/<int:pk>/", views.pellet_set_detail, name="pellet-set"),
    path("pellet-sets/<int:pk>/edit/", views.pellet_set_edit, name="pellet-set-edit"),
    path("membranes/", views.SpeMembraneList.as_view(), name="membrane-list"),
    path("membranes/new/", views.SpeMembraneFormView.as_view(), name="membrane-new"),
    path("ile/", views.IleBatchList.as_view(), name="ile-list"),
    path("ile/new/", views.IleBatchFormView.as_view(), name="ile-new"),
    path("coatings/", views.CathodeCoatingList.as_view(), name="coating-list"),
    path("coatings/new/", views.CathodeCoatingFormView.as_view(), name="coating-new"),
    path("membrane-pieces/", views.MembranePieceList.as_view(), name="piece-list"),
    path("membrane-pieces/new/", views.MembranePieceCreateView.as_view(), name="piece-new"),
    path("disks/", views.ElectrodeDiskList.as_view(), name="disk-list"),
    path("disks/new/", views.ElectrodeDiskCreateView.as_view(), name="disk-new"),
    path("pieces/<str:code>/new-version/", views.piece_version, name="piece-version"),
]
