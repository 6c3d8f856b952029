"""The money pages, under /money/ (money.views lists its routes)."""

from money import views

app_name = "money"
urlpatterns = views.urlpatterns
