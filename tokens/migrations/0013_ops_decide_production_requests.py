"""Ops may decide production-access requests and change an organisation's API access and plan
(issue 15): both through tokens.services, from the ops console. Nothing else is added."""

from django.db import migrations

GROUP = "Ops"
PERMISSIONS = [
    ("tokens", "productionaccessrequest", "view_productionaccessrequest", "Can view production access request"),
    ("tokens", "productionaccessrequest", "change_productionaccessrequest", "Can change production access request"),
    ("portal", "organization", "change_api_access", "Can change the API access level and plan"),
]


def grant(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    db = schema_editor.connection.alias
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    for app_label, model, codename, name in PERMISSIONS:
        content_type, _ = ContentType.objects.using(db).get_or_create(
            app_label=app_label, model=model
        )
        permission, _ = Permission.objects.using(db).get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    db = schema_editor.connection.alias
    group = Group.objects.using(db).filter(name=GROUP).first()
    if group is None:
        return
    codenames = [codename for _, _, codename, _ in PERMISSIONS]
    group.permissions.remove(*Permission.objects.using(db).filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0012_production_access_requests"),
        ("portal", "0004_organization_plan"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
