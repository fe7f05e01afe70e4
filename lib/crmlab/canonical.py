"""Canonical names shared by the generators, the cleaning rules, the schemas and the models.

Kept in a module with no heavy imports so that any layer can use it.
"""

from __future__ import annotations

#: Driver-rating columns (1-5) of the retail satisfaction survey, in questionnaire order.
RETAIL_DRIVERS: tuple[str, ...] = (
    "product_quality",
    "price_value",
    "staff_service",
    "store_environment",
    "checkout_speed",
    "product_availability",
    "loyalty_programme",
)
