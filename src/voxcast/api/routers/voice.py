"""Placeholder router; filled in below."""

from __future__ import annotations

from fastapi import APIRouter

from voxcast.api.routing import VendorRoute

router = APIRouter(route_class=VendorRoute)
