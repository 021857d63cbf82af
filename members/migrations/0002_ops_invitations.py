"""The Ops group may see invitations and revoke them (the change permission means "may revoke":
every field is read-only in admin, see portal/admin/members.py).

As in portal 0002_ops_group, permissions are created here with the codenames and names Django
uses, because on a fresh database post_migrate has not made them yet.
"""

from django.db import migrations

GROUP = "Ops"
VERBS = ("view", "change")


def grant(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    Invitation = apps.get_model("members", "Invitation")
    db = schema_editor.connection.alias

    content_type, _ = ContentType.objects.using(db).get_or_create(
        app_label="members", model="invitation"
    )
    permissions = [
        Permission.objects.using(db).get_or_create(
            content_type=content_type,
            codename=f"{verb}_invitation",
            defaults={"name": f"Can {verb} {Invitation._meta.verbose_name}"},
        )[0]
        for verb in VERBS
    ]
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.add(*permissions)


def revoke(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    db = schema_editor.connection.alias
    group = Group.objects.using(db).filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.using(db).filter(
                content_type__app_label="members",
                codename__in=[f"{verb}_invitation" for verb in VERBS],
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_initial"),
        ("portal", "0002_ops_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
