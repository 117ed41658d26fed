"""Typed domain objects and the error type; imports nothing else of Cairn's."""
