from django.urls import path

from engagements import views

app_name = "engagements"
urlpatterns = [
    path("", views.engagement_list, name="list"),
    path("vendors/", views.vendor_list, name="vendors"),
    path("<str:code>/", views.engagement_detail, name="detail"),
]
