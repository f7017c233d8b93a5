"""What a request cost, from its usage and the alias's prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant_router.providers.base import Usage
    from assistant_router.routing.policy import Prices


def cost_usd(prices: Prices, usage: Usage) -> float | None:
    """Dollars for ``usage``; None when the price is unknown (never shown as zero).

    The tier with the highest threshold below the request's input applies to
    the whole request, as the providers' long-context pricing does. Cached
    input is charged at ``cached_input`` where given, else at the input price.
    """
    input_price, output_price, cached_price = prices.input, prices.output, prices.cached_input
    for tier in sorted(prices.tiers, key=lambda t: t.above_input_tokens):
        if usage.input_tokens > tier.above_input_tokens:
            input_price, output_price = tier.input, tier.output
            cached_price = tier.cached_input if tier.cached_input is not None else cached_price
    if input_price is None or output_price is None:
        return None
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    cached_rate = cached_price if cached_price is not None else input_price
    dollars = (usage.input_tokens - cached) * input_price + cached * cached_rate + usage.output_tokens * output_price
    return round(dollars / 1e6, 8)
