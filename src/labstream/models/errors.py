"""Errors of the model registry."""

from __future__ import annotations

from labstream.core.errors import InputError, LabstreamError


class RegistryError(LabstreamError):
    """The registry refused an operation (unknown model or alias, a gate that said no)."""


class ModelNotFound(InputError):
    """No model, version or alias of that name in the registry."""


class PromotionRefused(RegistryError):
    """The promotion gate refused a challenger; the decision (with its numbers) is recorded."""


__all__ = ["ModelNotFound", "PromotionRefused", "RegistryError"]
