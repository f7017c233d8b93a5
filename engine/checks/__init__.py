"""Checks of an AI edit before it lands."""
