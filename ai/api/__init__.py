"""The HTTP edge: DRF views, serializers, SSE and the one place errors become responses."""
