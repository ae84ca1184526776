"""Accounts' data: a profile beside Django's auth User (which accounts also owns)."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What the product knows about a user beyond authentication."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="profile")
    display_name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.display_name
