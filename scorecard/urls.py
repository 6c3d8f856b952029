from django.urls import path  # noqa: F401 - the dashboards add their pages here

app_name = "scorecard"
urlpatterns: list = []
