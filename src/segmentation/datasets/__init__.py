"""Data the kit ships or generates: the demo export (``_demo``), CDNOW read from the lifetimes
wheel without importing it (``_cdnow``), the one BG/NBD + Gamma-Gamma simulator (``_simulate``), and the demo's campaign log with
its planted effect (``_campaign``)."""

from segmentation.datasets._cdnow import cdnow_file, load_cdnow
from segmentation.datasets._demo import (
    CAMPAIGN_HEADERS,
    CUSTOMER_HEADERS,
    DEMO_LABEL,
    INTERACTION_HEADERS,
    ORDER_HEADERS,
    DemoExport,
    generate_demo,
    write_demo_export,
)
from segmentation.datasets._simulate import (
    CustomerLatents,
    SimulatedPurchases,
    draw_customer_latents,
    draw_order_values,
    simulate_bgnbd_purchases,
    simulate_bgnbd_summary,
)

__all__ = [
    "CAMPAIGN_HEADERS",
    "CUSTOMER_HEADERS",
    "DEMO_LABEL",
    "INTERACTION_HEADERS",
    "ORDER_HEADERS",
    "CustomerLatents",
    "DemoExport",
    "SimulatedPurchases",
    "cdnow_file",
    "draw_customer_latents",
    "draw_order_values",
    "generate_demo",
    "load_cdnow",
    "simulate_bgnbd_purchases",
    "simulate_bgnbd_summary",
    "write_demo_export",
]
