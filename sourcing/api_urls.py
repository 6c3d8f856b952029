"""sourcing's REST endpoints under /api/v1/sourcing/ (sourcing.api)."""

from django.urls import path

from sourcing import api

urlpatterns = [
    path("tenders/", api.TenderListView.as_view(), name="sourcing-tenders"),
    path("tenders/<int:tender_id>/", api.TenderDetailView.as_view(), name="sourcing-tender"),
    path(
        "tenders/<int:tender_id>/proposals/",
        api.ProposalListView.as_view(),
        name="sourcing-proposals",
    ),
    path(
        "tenders/<int:tender_id>/proposals/<int:proposal_id>/withdraw/",
        api.ProposalWithdrawView.as_view(),
        name="sourcing-proposal-withdraw",
    ),
    path(
        "tenders/<int:tender_id>/comparison/",
        api.ComparisonView.as_view(),
        name="sourcing-comparison",
    ),
    path("tenders/<int:tender_id>/choose/", api.ChooseView.as_view(), name="sourcing-choose"),
]
