"""The REST API: shared pieces (auth, errors, pagination, renderers) and the generic endpoints.

Each app keeps its own endpoints in `<app>/api/` (serializers, viewsets) and lists them in a
`ROUTES` table that `lims/api/urls.py` registers into one router.
"""
