"""Django's admin app, with portal.admin_site's site as its default `admin.site`. Its own
module: INSTALLED_APPS imports it before any model can be."""

from django.contrib.admin.apps import AdminConfig


class QuaygateAdminConfig(AdminConfig):
    default_site = "portal.admin_site.TwoFactorAdminSite"
