"""Mounted at api/v1/engagements/<code>/scorecard/ by kpi_planner/urls.py."""

from django.urls import path

from scorecard import api

urlpatterns = [path("", api.engagement_scorecard, name="engagement-scorecard")]
