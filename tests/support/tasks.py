"""A task that exists only for the end-to-end worker test: it leaves a visible mark in the database."""

from celery import shared_task

from accounts.models import Organization


@shared_task(name="tests.support.tasks.create_organization")
def create_organization(slug: str) -> int:
    return Organization.objects.create(
        name=f"Made by the worker {slug}", slug=slug, api_access="production"
    ).id
