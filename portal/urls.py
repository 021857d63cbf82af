from django.contrib import admin
from django.urls import include, path

from observability.views import metrics
from portal import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("portal.portal_urls")),
]

# API paths get problem+json errors; portal paths get templates/404.html and 500.html.
handler400 = "api.problems.handler400"
handler404 = "api.problems.handler404"
handler500 = "api.problems.handler500"
