"""Adapters: one module per external system, each translating its SDK's errors into shared.errors."""
