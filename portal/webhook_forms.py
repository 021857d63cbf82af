"""The webhook endpoint form: URL, description, event types. The URL rules (https, no
credentials, a public address, 2,000 characters) are webhooks.urlcheck's, shown as field errors."""

from django import forms

from webhooks.catalogue import EVENT_TYPES
from webhooks.urlcheck import MAX_URL_LENGTH, WebhookUrlError, check_url


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        # One over the limit, so the length gets our message rather than a truncated input.
        max_length=MAX_URL_LENGTH + 1,
        widget=forms.TextInput(
            attrs={"placeholder": "https://siem.example.com/quaygate", "inputmode": "url"}
        ),
        help_text="An https:// URL that accepts POST requests. Quaygate signs every request.",
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events to send",
        choices=[(name, f"{name}: {meaning}") for name, meaning in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event type."},
    )

    def clean_url(self) -> str:
        try:
            return check_url(self.cleaned_data["url"])
        except WebhookUrlError as error:
            raise forms.ValidationError(error.message, code=error.code) from error

    @staticmethod
    def initial_from(endpoint) -> dict:
        return {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
        }
