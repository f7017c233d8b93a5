"""Delivering a finished answer: one module per delivery kind, each against a small target interface."""
