"""Cryptographic building blocks that know nothing of HTTP, files or tokens."""
