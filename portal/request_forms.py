"""The Requests tab's one form: approve or deny a member's token, with a note (issue 17)."""

from __future__ import annotations

from django import forms


class DecisionForm(forms.Form):
    ACTIONS = (("approve", "Approve"), ("deny", "Deny"))

    decision = forms.ChoiceField(choices=ACTIONS)
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Optional: why, for the requester"}),
        help_text="Optional. Goes into the audit log and the requester's email.",
    )
