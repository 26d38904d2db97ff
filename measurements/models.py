from django.db import models  # noqa: F401  (measurement records come with the ingestion work)
