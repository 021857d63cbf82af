"""The "Ops" group: what platform ops staff need in Django admin, and nothing more.

Ops users are staff (they can sign in to /admin/) but not superusers; this group is all they
can do there. Admin actions map onto model permissions:

- change_personalaccesstoken: "may revoke". Every token field is read-only in admin, so the
  only change it allows is the Revoke action (tokens.services.revoke_token).
- change_anomaly: acknowledge / resolve (telemetry.services); every field read-only.
- change_notification: retry a failed email (notifications.services); every field read-only.
- view_*: tokens, the audit log, the usage log, anomalies, notifications, organisations with
  their members and token policy.

Permissions are normally created after all migrations (post_migrate), so on a fresh database
they do not exist yet here: they are created with the same codenames and names Django uses,
and Django's own pass then finds them and adds nothing.
"""

from django.db import migrations

GROUP = "Ops"

PERMISSIONS = {
    ("tokens", "personalaccesstoken"): ("view", "change"),
    ("tokens", "auditevent"): ("view",),
    ("tokens", "tokenpolicy"): ("view",),
    ("telemetry", "usagerecord"): ("view",),
    ("telemetry", "anomaly"): ("view", "change"),
    ("notifications", "notification"): ("view", "change"),
    ("portal", "organization"): ("view",),
    ("portal", "membership"): ("view",),
}


def create_ops_group(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    db = schema_editor.connection.alias

    permissions = []
    for (app_label, model_name), verbs in PERMISSIONS.items():
        model = apps.get_model(app_label, model_name)
        content_type, _ = ContentType.objects.using(db).get_or_create(
            app_label=app_label, model=model_name
        )
        for verb in verbs:
            permission, _ = Permission.objects.using(db).get_or_create(
                content_type=content_type,
                codename=f"{verb}_{model_name}",
                defaults={"name": f"Can {verb} {model._meta.verbose_name}"},
            )
            permissions.append(permission)
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.set(permissions)


def delete_ops_group(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tokens", "0001_initial"),
        ("telemetry", "0001_initial"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_ops_group, delete_ops_group)]
