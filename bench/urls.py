"""The portal's URLs plus the reference views /bench/… (bench settings only)."""

from django.urls import path

from bench import views
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/ceiling", views.CeilingView.as_view(), name="bench-ceiling"),
    path("bench/baseline", views.BaselineView.as_view(), name="bench-baseline"),
    path("bench/knox", views.KnoxView.as_view(), name="bench-knox"),
    path("bench/api-key", views.ApiKeyView.as_view(), name="bench-api-key"),
    *portal_urlpatterns,
]
