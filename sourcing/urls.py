"""The sourcing pages, under /sourcing/ (sourcing.views lists its routes)."""

from sourcing import views

app_name = "sourcing"
urlpatterns = views.urlpatterns
