"""The portal's URLs plus /bench/ceiling and /bench/baseline (bench settings only)."""

from django.urls import path

from bench import views
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/ceiling", views.CeilingView.as_view(), name="bench-ceiling"),
    path("bench/baseline", views.BaselineView.as_view(), name="bench-baseline"),
    *portal_urlpatterns,
]
