"""What a request costs, or will cost: one rule, tiers included, for the
ledger (actual usage), the budget check and the preview (estimates)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from assistant_router.providers.base import Usage

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig, Policy, Prices

# The answer size a budget check assumes when deciding whether a request would exceed a budget.
ASSUMED_OUTPUT_TOKENS = 2000


@dataclass(frozen=True)
class Rates:
    """Dollars per million tokens for one request (None: unknown)."""

    input: float | None
    output: float | None
    cached_input: float | None


def rates_for(prices: Prices, input_tokens: int) -> Rates:
    """The tier with the highest threshold below the request's input applies to
    the whole request, as the providers' long-context pricing does."""
    rates = Rates(prices.input, prices.output, prices.cached_input)
    for tier in sorted(prices.tiers, key=lambda t: t.above_input_tokens):
        if input_tokens > tier.above_input_tokens:
            cached = tier.cached_input if tier.cached_input is not None else rates.cached_input
            rates = Rates(tier.input, tier.output, cached)
    return rates


def cost_usd(prices: Prices, usage: Usage) -> float | None:
    """Dollars for ``usage``; None when the price is unknown (never shown as zero).

    Cached input is charged at ``cached_input`` where given, else at the input price.
    """
    rates = rates_for(prices, usage.input_tokens)
    if rates.input is None or rates.output is None:
        return None
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    cached_rate = rates.cached_input if rates.cached_input is not None else rates.input
    dollars = (usage.input_tokens - cached) * rates.input + cached * cached_rate + usage.output_tokens * rates.output
    return round(dollars / 1e6, 8)


def estimated_cost(config: ModelConfig, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """Dollars for the input and for an answer of up to ``output_tokens``, at
    the rates :func:`cost_usd` would charge; an unknown price stays unknown."""
    rates = rates_for(config.prices, input_tokens)
    cost: dict[str, Any] = {"currency": "USD"}
    cost["input"] = None if rates.input is None else round(input_tokens * rates.input / 1e6, 6)
    cost["output_up_to"] = None if rates.output is None else round(output_tokens * rates.output / 1e6, 6)
    cost["note"] = "unknown price" if None in (cost["input"], cost["output_up_to"]) else "estimate"
    return cost


def price_known(prices: Prices) -> bool:
    return prices.input is not None and prices.output is not None


def budget_price_known(policy: Policy, config: ModelConfig) -> bool:
    """Does a budget take the alias's own price? Not when it is unknown, nor
    when only the project policy gives it (a repository cannot vouch for a price)."""
    return price_known(config.prices) and config.alias not in policy.unvouched_prices


def most_expensive_prices(policy: Policy, provider: str) -> Prices | None:
    """The dearest known rates of ``provider`` among the policy's aliases
    (shipped, user and project prices, every tier counted), input and output
    apart; of any paid provider when none of ``provider`` is priced (the
    offline mock's $0 is no measure of a real model), and failing that the
    dearest shipped price."""
    from assistant_router.routing.policy import MOCK_PROVIDER, Prices

    def ceiling(configs: list[ModelConfig]) -> Prices | None:
        inputs: list[float] = []
        outputs: list[float] = []
        for config in configs:
            if not price_known(config.prices):
                continue
            assert config.prices.input is not None and config.prices.output is not None
            inputs += [config.prices.input, *(t.input for t in config.prices.tiers)]
            outputs += [config.prices.output, *(t.output for t in config.prices.tiers)]
        return Prices(input=max(inputs), output=max(outputs)) if inputs else None

    models = list(policy.models.values())
    paid = [m for m in models if m.provider != MOCK_PROVIDER]
    return ceiling([m for m in models if m.provider == provider]) or ceiling(paid) or ceiling(_shipped_models())


@cache
def _shipped_models() -> list[ModelConfig]:
    from assistant_router.routing.policy import build_policy, builtin_layer

    policy, _ = build_policy([builtin_layer()])
    return list(policy.models.values()) if policy is not None else []


def budget_estimate_usd(config: ModelConfig, input_tokens: int, policy: Policy | None = None) -> float | None:
    """What a budget counts a request as: its input plus an answer of
    ASSUMED_OUTPUT_TOKENS (or the alias's smaller output limit).

    With ``policy`` (the budget check), an alias whose price is unknown counts
    at its provider's most expensive known price, never as free."""
    output = min(config.max_output_tokens or ASSUMED_OUTPUT_TOKENS, ASSUMED_OUTPUT_TOKENS)
    prices = config.prices
    if policy is not None and not budget_price_known(policy, config):
        prices = most_expensive_prices(policy, config.provider) or prices
    return cost_usd(prices, Usage(input_tokens, output))


def counted_usd(cost: float | None, provider: str, usage: Usage, policy: Policy | None, alias: str = "") -> float:
    """What a budget counts an attempt's recorded ``cost`` as: an unknown cost
    (None), or one at a price only the project gives, at the provider's most
    expensive known price, never as free."""
    if cost is not None and (policy is None or alias not in policy.unvouched_prices):
        return cost
    prices = most_expensive_prices(policy, provider) if policy is not None else None
    if prices is None:
        return cost or 0.0
    return max(cost or 0.0, cost_usd(prices, usage) or 0.0)


def format_usd(value: float | None) -> str:
    """Dollars as people read them: cents to four places, and amounts under a
    hundredth of a cent to two significant digits ($0.000034), so a cheap
    model never reads as free and a $0.001 budget is not "$0.00 of $0.00"."""
    if value is None:
        return "unknown"
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.0001:  # $0.10, $0.015, $0.0034: the digits that mean something, at least cents
        digits = f"{value:.4f}".rstrip("0")
        return "$" + (digits + "0" if len(digits.partition(".")[2]) < 2 else digits)
    return f"${value:.{1 - math.floor(math.log10(abs(value)))}f}"
