"""Forms of the second factor: a typed code (app or recovery), the organisation's requirement."""

from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code",
        max_length=32,
        strip=True,
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
    )


class ConfirmAppForm(forms.Form):
    code = forms.CharField(
        label="Code from your app",
        max_length=12,
        strip=True,
        help_text="Type the 6 digits the app shows now, to prove it is set up.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class TwoFactorPolicyForm(forms.Form):
    require_two_factor = forms.BooleanField(
        label="Members must use two-factor authentication",
        required=False,
        help_text=(
            "Members without it can sign in but do nothing here until they set it up; their "
            "tokens in this organisation keep working for 7 days, then stop until they do."
        ),
    )
