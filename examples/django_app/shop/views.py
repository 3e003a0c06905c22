"""A view that answers at once and leaves the slow part to a worker."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from .tasks import confirm_order


def order_placed(request: HttpRequest, order_id: int) -> JsonResponse:
    job_id = confirm_order.enqueue(order_id)
    return JsonResponse({"job": job_id}, status=202)
