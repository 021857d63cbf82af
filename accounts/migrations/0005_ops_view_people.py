"""Issue 16: the Ops group may see people (read only), so ops can tell who has two-factor
authentication and reset it for someone who lost their devices (the reset action itself needs
"may revoke tokens", which Ops already hold; see portal/admin/two_factor.py).

As in 0002_ops_group, the permission is created here with Django's codename and name, because
on a fresh database post_migrate has not made it yet.
"""

from django.db import migrations

GROUP = "Ops"


def grant(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("portal", "User")
    db = schema_editor.connection.alias
    content_type, _ = ContentType.objects.using(db).get_or_create(app_label="portal", model="user")
    permission, _ = Permission.objects.using(db).get_or_create(
        content_type=content_type,
        codename="view_user",
        defaults={"name": f"Can view {User._meta.verbose_name}"},
    )
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.add(permission)


def revoke(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    db = schema_editor.connection.alias
    group = Group.objects.using(db).filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.using(db).filter(
                content_type__app_label="portal", codename="view_user"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_two_factor"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
