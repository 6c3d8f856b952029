"""The PDCA pages, under /pdca/: review meetings (pdca.views.reviews) and tracked actions
(pdca.views.actions); each module lists its own routes."""

from pdca.views import actions, reviews

app_name = "pdca"
urlpatterns = [*reviews.urlpatterns, *actions.urlpatterns]
