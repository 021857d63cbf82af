"""Forms of the members pages: invite, change a role, search, and join by invitation.

They check shape only (lengths, choices, matching passwords); every rule about who may do what
is in members.services and members.invitations, whose refusals are shown next to the field.
"""

from __future__ import annotations

from django import forms

from accounts.models import Membership, User

ROLE_CHOICES = [
    (Membership.Role.MEMBER, "Member: their own tokens, within the token policy"),
    (Membership.Role.ADMIN, "Organisation admin: every token, the policy and the people"),
]


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="They get a link that works once, for 7 days.",
    )
    role = forms.ChoiceField(
        choices=ROLE_CHOICES, initial=Membership.Role.MEMBER, widget=forms.RadioSelect
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label="Name or email",
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"placeholder": "Search by name or email"}),
    )


class JoinForm(forms.Form):
    """A new person's account, made from an invitation: the only way to sign up."""

    full_name = forms.CharField(
        label="Your name",
        max_length=User._meta.get_field("full_name").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password, not your email.",
    )
    password2 = forms.CharField(
        label="The password again",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords are not the same.")
        return cleaned
