from django.urls import path  # noqa: F401 - the vendor portal adds its pages here

app_name = "portal"
urlpatterns: list = []
