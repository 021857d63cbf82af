"""The Ops group writes and publishes API announcements: view, add (a draft) and change (edit a
draft; "publish" is the change permission). Not delete: a published one is the record of what
was sent, and a draft is cheap to leave.

As in members 0002_ops_invitations, permissions are created here with the codenames and names Django
uses, because on a fresh database post_migrate has not made them yet.
"""

from django.db import migrations

GROUP = "Ops"
VERBS = ("view", "add", "change")


def grant(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    Announcement = apps.get_model("changelog", "Announcement")
    db = schema_editor.connection.alias

    content_type, _ = ContentType.objects.using(db).get_or_create(
        app_label="changelog", model="announcement"
    )
    permissions = [
        Permission.objects.using(db).get_or_create(
            content_type=content_type,
            codename=f"{verb}_announcement",
            defaults={"name": f"Can {verb} {Announcement._meta.verbose_name}"},
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
                content_type__app_label="changelog",
                codename__in=[f"{verb}_announcement" for verb in VERBS],
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("changelog", "0001_initial"),
        ("portal", "0002_ops_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
