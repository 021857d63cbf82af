"""Account settings: which reminder emails a person wants."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from notifications.services import set_expiry_reminders
from portal import selectors
from portal.forms import AccountForm, posted


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = AccountForm(
        posted(request), initial={"wants_expiry_reminders": user.wants_expiry_reminders}
    )
    if request.method == "POST" and form.is_valid():
        set_expiry_reminders(user, enabled=form.cleaned_data["wants_expiry_reminders"])
        messages.success(request, "Saved.")
        return HttpResponseRedirect(reverse("account"))
    context = {"form": form, "memberships": list(selectors.memberships_of(user))}
    return render(request, "portal/account.html", context)
