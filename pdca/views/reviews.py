"""The reviews pages (issue 13)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
