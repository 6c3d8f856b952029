from django.urls import path, register_converter

from kpi_planner.months import MonthConverter
from portal import views

register_converter(MonthConverter, "yyyymm")

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("submissions/", views.submissions, name="submissions"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/settings/", views.notification_settings, name="notification_settings"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("engagements/<str:code>/", views.engagement, name="engagement"),
    path("engagements/<str:code>/history/", views.history, name="history"),
    path("engagements/<str:code>/proposals/", views.proposals, name="proposals"),
    path(
        "engagements/<str:code>/proposals/<int:pk>/decide/",
        views.proposal_decide,
        name="proposal_decide",
    ),
    path("engagements/<str:code>/<yyyymm:period>/", views.month, name="month"),
    path("engagements/<str:code>/<yyyymm:period>/action/", views.month_action, name="month_action"),
    path("engagements/<str:code>/<yyyymm:period>/upload/", views.upload, name="upload"),
    path(
        "engagements/<str:code>/<yyyymm:period>/template.<str:fmt>",
        views.template_download,
        name="template",
    ),
    path("engagements/<str:code>/<yyyymm:period>/scorecard/", views.scorecard, name="scorecard"),
]
