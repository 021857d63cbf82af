"""Forms of the service accounts pages (issue 17): create one, name its contact.

Shape only; tokens.services.service_accounts decides (a name clash, a contact who is not a
member) and its refusals are shown next to the field.
"""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import User


def _person(user: User) -> str:
    return f"{user.get_full_name()} ({user.email})" if user.get_full_name() else user.email


class ContactForm(forms.Form):
    contact = forms.TypedChoiceField(
        label="Responsible contact",
        coerce=int,
        help_text="A member of the organisation. They get the expiry and security emails of "
        "this account's tokens.",
    )

    def __init__(self, *args: Any, people: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {user.pk: user for user in people}
        self.fields["contact"].choices = [("", "Choose a member…")] + [
            (user.pk, _person(user)) for user in people
        ]

    def chosen_contact(self) -> User:
        return self.people[self.cleaned_data["contact"]]


class ServiceAccountForm(ContactForm):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="The integration, e.g. “SAP connector”. Unique in the organisation.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional. What runs with its tokens, and where.",
    )
    field_order = ["name", "description", "contact"]
