from django.urls import path  # noqa: F401 - the tree editor adds its pages here

app_name = "kpitree"
urlpatterns: list = []
